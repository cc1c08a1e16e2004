from agent.grounding import cited, extract_numbers, fix_citations, ungrounded_numbers


def test_numbers_from_tools_are_grounded_others_are_not():
    ev = ["Customer 42 placed 2 orders (4 items) totalling $38.32; first order 1997-01-01."]
    assert ungrounded_numbers("Customer 42 placed 2 orders worth $38.32 [1].", ev) == []
    assert ungrounded_numbers("They spent $40.00 in total.", ev) == ["40.00"]
    assert ungrounded_numbers("About 38.3 dollars.", ev) == []  # written precision
    assert ungrounded_numbers("Around 12% of them.", ev) == ["12"]
    assert ungrounded_numbers("Their first order was in 1997.", ev) == []


def test_citations_and_list_markers_are_not_claims():
    assert extract_numbers("1. Runs small [1][2]\n2. Thin fabric [3]") == []
    assert extract_numbers("It cost $1,234.50 and 15% more") == ["1234.50", "15"]


def test_fix_citations_drops_markers_without_sources():
    assert fix_citations("Small [1], thin [7].", 3) == "Small [1], thin ."
    assert cited("a [2] b [1] c [2]") == [2, 1]


def test_figures_inside_chinese_text_are_checked_too():
    """Chinese has no spaces: a figure right after a character is still a claim (a generator once wrote 2017 for 1997)."""
    answer = "42号顾客购买了2单,总金额为38.32元,第一单2017年1月1日。"
    assert {"42", "2", "38.32", "2017"} <= set(extract_numbers(answer))
    evidence = ["Customer 42: 2 orders (4 items), $38.32 in total; first order 1997-01-01, last 1997-01-02."]
    assert ungrounded_numbers(answer, evidence) == ["2017"]
    assert ungrounded_numbers("1997年的订单数:56,902。", ["orders in 1997: 56,902"]) == []
