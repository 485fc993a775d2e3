"""Write modes of current.<dataset>: each idempotent, merge/history correct out of order."""

import pytest

from dataops_platform.automation.one_pass import prepare_instance
from dataops_platform.factory import build_platform
from dataops_platform.project.validate import load_contracts
from dataops_platform_tests.project_files import contracts_dir

HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"


def customer(cid: int, city: str, country: str = "DE", since: str = "2024-01-02") -> str:
    return f"{cid};Ann;Lee;a{cid}@x.de;{city};{country};{since};consumer\n"


def _write_mode(settings, section: str) -> None:
    path = contracts_dir(settings) / "customers.yaml"
    path.write_text(path.read_text().replace("columns:\n", f"write: {section}\ncolumns:\n", 1))


def _deliver(land, one_pass, name: str, *rows: str):
    land(f"customers/{name}", (HEADER + "".join(rows)).encode("latin-1"))
    result = one_pass()
    assert result.ok, result.failures
    return result


def _table(query, columns="customer_id, city, country, _source_file"):
    return query(f"select {columns} from current.customers order by all")


def _rerun_every_file(settings) -> None:
    """Materialize every file's partition again (as a re-run or a replay would)."""
    instance = prepare_instance(settings)
    platform = build_platform(settings)
    (dataset,) = [d for d in platform.datasets if d.contract.name == "customers"]
    job = platform.definitions.resolve_job_def(dataset.process_job.name)
    for key in instance.get_dynamic_partitions(dataset.partitions.name):
        assert job.execute_in_process(instance=instance, partition_key=key).success
    instance.dispose()


def test_append_keeps_every_file_and_a_rerun_changes_nothing(settings, land, one_pass, query):
    _write_mode(settings, "{mode: append}")
    _deliver(land, one_pass, "a.csv", customer(2, "Bonn"), customer(1, "Köln"))
    _deliver(land, one_pass, "b.csv", customer(1, "Berlin"))
    before = _table(query)
    assert [r[:2] for r in before] == [(1, "Berlin"), (1, "Köln"), (2, "Bonn")]
    _rerun_every_file(settings)
    assert _table(query) == before
    # each write is sorted by the sort key (default: the key), appended after earlier ones
    assert [r[0] for r in query("select customer_id from current.customers")] == [1, 2, 1]


def test_replace_keeps_the_newest_snapshot_even_when_an_older_file_reruns(
        settings, land, one_pass, query):
    _write_mode(settings, "{mode: replace}")
    _deliver(land, one_pass, "a.csv", customer(1, "Köln"), customer(2, "Bonn"))
    _deliver(land, one_pass, "b.csv", customer(3, "Berlin"))
    assert _table(query) == [(3, "Berlin", "DE", "customers/b.csv")]
    _rerun_every_file(settings)  # a.csv runs again, after b.csv
    assert _table(query) == [(3, "Berlin", "DE", "customers/b.csv")]


def test_partition_replaces_the_rows_sharing_the_files_partition_values(
        settings, land, one_pass, query):
    _write_mode(settings, "{mode: partition, partition_by: [country]}")
    _deliver(land, one_pass, "a.csv", customer(1, "Köln"), customer(2, "Lyon", "FR"))
    _deliver(land, one_pass, "b.csv", customer(3, "Bonn"))  # a new DE partition
    expected = [(2, "Lyon", "FR", "customers/a.csv"), (3, "Bonn", "DE", "customers/b.csv")]
    assert _table(query) == expected
    _deliver(land, one_pass, "b.csv", customer(3, "Bonn"), customer(4, "Ulm"))  # b.csv changed
    assert _table(query) == [*expected, (4, "Ulm", "DE", "customers/b.csv")]


def test_merge_keeps_the_newest_version_per_key_out_of_order_and_idempotent(
        settings, land, one_pass, query):
    # the version order is the customer's signup date here (a stand-in for updated_at)
    _write_mode(settings, "{mode: merge, order_by: signup_date}")
    _deliver(land, one_pass, "new.csv", customer(1, "Bonn", since="2024-05-01"), customer(2, "Ulm"))
    _deliver(land, one_pass, "old.csv", customer(1, "Köln", since="2024-01-01"),  # arrives late
             customer(3, "Kiel"))
    merged = _table(query, "customer_id, city, signup_date::varchar, _source_file")
    assert merged == [(1, "Bonn", "2024-05-01", "customers/new.csv"),
                      (2, "Ulm", "2024-01-02", "customers/new.csv"),
                      (3, "Kiel", "2024-01-02", "customers/old.csv")]
    _rerun_every_file(settings)
    assert _table(query, "customer_id, city, signup_date::varchar, _source_file") == merged
    assert query("select count(*), count(distinct customer_id) from current.customers") == [(3, 3)]


def test_history_keeps_each_change_with_validity_out_of_order_and_idempotent(
        settings, land, one_pass, query):
    _write_mode(settings, "{mode: history, order_by: signup_date}")
    _deliver(land, one_pass, "t1.csv", customer(1, "Köln", since="2024-01-01"))
    _deliver(land, one_pass, "t3.csv", customer(1, "Bonn", since="2024-03-01"))
    _deliver(land, one_pass, "t2.csv", customer(1, "Ulm", since="2024-02-01"))  # late delivery
    _deliver(land, one_pass, "t4.csv", customer(1, "Bonn", since="2024-04-01"),  # no change for 1
             customer(2, "Kiel", since="2024-04-01"))
    columns = "customer_id, city, valid_from::date::varchar, valid_to::date::varchar, is_current"
    timeline = query(f"select {columns} from current.customers order by customer_id, valid_from")
    assert timeline == [
        (1, "Köln", "2024-01-01", "2024-02-01", False),
        (1, "Ulm", "2024-02-01", "2024-03-01", False),
        (1, "Bonn", "2024-03-01", None, True),   # t4 repeated it: no new version
        (2, "Kiel", "2024-04-01", None, True),
    ]
    _rerun_every_file(settings)
    assert query(f"select {columns} from current.customers order by customer_id, valid_from") \
        == timeline


def test_write_section_is_validated(settings):
    from dataops_platform.contracts import ContractError

    for section, problem in [
        ("{mode: merge, key: [kundennummer]}", "write: ['kundennummer'] not among the columns"),
        ("{mode: partition}", "mode partition needs partition_by"),
        ("{mode: upsert}", "write.mode"),
        ("{mode: merge, order_by: updated}", "write: ['updated'] not among the columns"),
    ]:
        path = contracts_dir(settings) / "customers.yaml"
        original = path.read_text()
        _write_mode(settings, section)
        with pytest.raises(ContractError) as info:
            load_contracts(settings.project_dir)
        assert problem in str(info.value), (section, str(info.value))
        path.write_text(original)


def test_the_demo_keeps_moved_customers_history_and_merges_redelivered_orders(
        settings, land_samples, one_pass, query):
    land_samples()
    assert one_pass().ok
    moved = query("""select customer_id from cleaned.customers group by 1
                     having count(distinct _partition) = 2""")
    assert len(moved) == 8  # the bundled update snapshot moves 8 customers (and adds 3)
    versions = query("""select customer_id, city, valid_to, is_current, _source_file
                        from current.customers where customer_id in
                        (select customer_id from cleaned.customers group by 1
                         having count(distinct _partition) = 2)
                        order by customer_id, valid_from""")
    assert len(versions) == 16
    for old, new in zip(versions[::2], versions[1::2], strict=True):
        assert old[0] == new[0] and old[1] != new[1]
        assert (old[3], new[3]) == (False, True) and old[2] is not None and new[2] is None
        assert (old[4], new[4]) == ("customers/customers_2026-11-01.csv",
                                    "customers/customers_2026-11-02.csv")
    assert query("select count(*) from current.customers where is_current") == \
        query("select count(distinct customer_id) from cleaned.customers")
    # orders delivered twice (in two daily files) appear once in current.orders
    assert query("select count(*), count(distinct order_id) from current.orders")[0] == \
        (query("select count(distinct order_id) from cleaned.orders")[0][0],) * 2
