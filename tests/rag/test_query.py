from datetime import date, datetime, timezone

from newscite.rag.query import QueryParser, outlet_aliases

OUTLETS = ["The Verge", "TechCrunch", "Cnbc | World Business News Leader",
           "The Independent - Life and Style", "The Independent - Sports", "The Age",
           "CBSSports.com", "Fortune"]
REFERENCE = datetime(2023, 12, 25, tzinfo=timezone.utc)


def parse(text):
    return QueryParser(OUTLETS, REFERENCE).run(text)


def test_outlet_aliases():
    assert {"Cnbc | World Business News Leader", "Cnbc", "CNBC"} <= outlet_aliases(
        "Cnbc | World Business News Leader")
    assert "Verge" in outlet_aliases("The Verge")
    assert "CBSSports" in outlet_aliases("CBSSports.com")
    assert "Age" not in outlet_aliases("The Age")


def test_named_outlets_are_recognised_longest_first():
    assert parse("as reported by The Verge and TechCrunch").sources == ("The Verge", "TechCrunch")
    assert parse("Did The Independent - Sports report it?").sources == ("The Independent - Sports",)
    assert set(parse("What did The Independent say?").sources) == {
        "The Independent - Life and Style", "The Independent - Sports"}
    assert parse("the fortune of the team in the age of AI").sources == ()
    assert parse("a CNBC report").sources == ("Cnbc | World Business News Leader",)


def test_named_days_are_ranking_hints_not_filters():
    q = parse("Did TechCrunch report on October 6, 2023 and on 20th October 2023 the same?")
    assert q.dates == (date(2023, 10, 6), date(2023, 10, 20))
    assert q.since is None and q.until is None and not q.recency


def test_relative_dates_become_ranges_from_the_reference_date():
    week = parse("What happened last week?")
    assert week.since.date() == date(2023, 12, 18) and week.until.date() == date(2023, 12, 25)
    assert parse("news from the past 3 days").since.date() == date(2023, 12, 22)
    month = parse("What did Fortune report in October 2023?")
    assert (month.since.date(), month.until.date()) == (date(2023, 10, 1), date(2023, 10, 31))


def test_latest_means_recency_unless_a_date_is_named():
    assert parse("What is the latest on the FTX trial?").recency
    assert not parse("What was the latest on October 6, 2023?").recency


def test_clauses_split_a_multi_part_question():
    q = parse("Which company founded by a Jane Street trader, accused of misusing customer "
              "funds, was reported by The Verge?")
    assert q.clauses == ("company founded by a Jane Street trader",
                         "accused of misusing customer funds", "was reported by The Verge")
