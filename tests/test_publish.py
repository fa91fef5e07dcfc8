"""Write-audit-publish: four forms per dataset, versions, idempotency, atomicity, retention, S3, CSV safety."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.datasets import DATASETS
from publish import wap
from publish.columns import COLUMNS, DATASET_COLUMNS, label
from publish.export import WORKBOOK_NAME, csv_cell
from publish.wap import AuditError, prune, publish, read_latest, versions

pytestmark = pytest.mark.integration


@pytest.fixture
def marts(conn):
    """Two small mart tables in the module's own database (what dbt would have built)."""
    conn.execute("drop schema if exists marts cascade")
    conn.execute("create schema marts")
    conn.execute("create table marts.towns (town_code text, valid_from date, name_zh text, status text, "
                 "valid_to date)")
    conn.execute("insert into marts.towns values ('CT-1', '2015-06-01', '=HYPERLINK(\"x\")', 'active', null), "
                 "('CT-2', '2016-01-01', '南湖基金小镇', 'active', '2016-12-31')")
    conn.execute("create table marts.submissions (county_code text, year integer, quarter integer, version integer, "
                 "received_at timestamptz, late boolean, file_sha256 text, errors integer)")
    conn.execute("insert into marts.submissions values ('330402', 2016, 3, 1, '2016-10-12 09:30+08', false, "
                 "'ab', 0), ('330402', 2016, 3, null, '2016-10-11 09:30+08', false, 'cd', 2)")
    conn.execute("create table marts.investment_progress (year integer, quarter integer, town_code text, "
                 "fai_ytd numeric(20, 6), progress_ratio numeric(20, 6), early_warning boolean)")
    conn.execute("insert into marts.investment_progress values (2016, 3, 'CT-1', 123456.7, 0.812345, false), "
                 "(2016, 3, 'CT-2', null, null, true)")
    return conn


@pytest.mark.parametrize(("value", "text"), [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
                                             ("南湖", "南湖"), (True, "true"), (None, "")])
def test_csv_cells_escape_formula_like_text(value, text):
    assert csv_cell(value) == text


def test_publish_writes_every_dataset_in_four_forms_and_switches_latest(marts, tmp_path):
    import openpyxl
    import pyarrow.parquet as pq

    url = (tmp_path / "pub").as_uri()
    result = publish(url, marts)
    assert result.created
    root = tmp_path / "pub"
    vdir = root / "v" / result.version
    assert (root / "LATEST").read_text().strip() == result.version
    assert (root / "latest").resolve() == vdir.resolve()
    manifest = json.loads((vdir / "manifest.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    for ds in ("towns", "submissions", "investment_progress"):
        assert {f"{ds}.csv", f"{ds}.parquet", f"{ds}.json"} <= names
    assert {WORKBOOK_NAME, "datasets.json"} <= names
    for f in manifest["files"]:
        data = (vdir / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    towns = (vdir / "towns.csv").read_bytes()
    assert towns.startswith("\ufeff".encode()) and "'=HYPERLINK" in towns.decode("utf-8-sig")
    # parquet keeps types; json keeps values; the workbook keeps formula-like text as text
    progress = pq.read_table(vdir / "investment_progress.parquet")
    assert str(progress.schema.field("fai_ytd").type) == "decimal128(20, 6)"
    assert progress.column("fai_ytd").to_pylist()[0] == Decimal("123456.700000")
    records = json.loads((vdir / "investment_progress.json").read_text())
    assert records[0] == {"year": 2016, "quarter": 3, "town_code": "CT-1", "fai_ytd": 123456.7,
                          "progress_ratio": 0.812345, "early_warning": False}
    wb = openpyxl.load_workbook(io.BytesIO((vdir / WORKBOOK_NAME).read_bytes()))
    assert set(wb.sheetnames) == {"towns", "submissions", "investment_progress"}
    assert wb["towns"]["C3"].value == '=HYPERLINK("x")' and wb["towns"]["C3"].data_type == "s"
    assert wb["towns"]["A1"].value == "小镇/试点镇代码" and wb["towns"]["A2"].value == "town_code"
    catalogue = json.loads((vdir / "datasets.json").read_text())
    assert catalogue["investment_progress"]["columns"][3] == {
        "name": "fai_ytd", "type": "numeric", "label_zh": "固定资产投资累计", "unit": "万元"}
    assert manifest["missing_datasets"]  # the marts not built here are listed, not silently absent


def test_every_published_column_has_a_chinese_label(marts, tmp_path):
    publish((tmp_path / "pub").as_uri(), marts)
    version = (tmp_path / "pub" / "LATEST").read_text().strip()
    catalogue = json.loads((tmp_path / "pub" / "v" / version / "datasets.json").read_text())
    unlabelled = [(ds, c["name"]) for ds, d in catalogue.items() for c in d["columns"] if c["name"] not in COLUMNS]
    assert unlabelled == []


# the published columns of /work/spec/v2.md (assessment v2) and publication.md: each needs its Chinese label
SPEC_COLUMNS = {
    "town_annual_assessment": "year town_code county_code name_zh programme tier list_name member_quarters score grade "
                              "rank_in_tier comparable pending awaited_counties investment_completion annual_task "
                              "annual_task_source scorable_weight rescaled proposals card_tie proposal_reasons_zh "
                              "proposal_reasons_en decision decision_zh decided_on document_no decided_by decision_notes "
                              "yellow_card yellow_cards_in_round removed_next_year eliminated_next_year downgrade_warning "
                              "notes notes_en n_ranked_in_tier",
    "assessment_components": "year town_code programme tier indicator actual target floor weight points scored status "
                             "reason note note_en value_q4 value_prev_year",
    "investment_progress": "year quarter town_code tier fai_ytd annual_task annual_task_source progress_ratio "
                           "expected_pace status early_warning fai_since_joining plan_investment_3y plan_progress_ratio "
                           "plan_time_elapsed_ratio join_year",
    "pilot_targets": "year town_code tier gdp_growth_pct county_gdp_growth_pct target_gdp_growth_pct fiscal_growth_pct "
                     "fai_growth_pct tertiary_share_change_pp employment_share_change_pp builtup_concentration_change_pp",
    "town_quarter_indicators": "year quarter county_code town_code programme tier indicator unit value_ytd "
                               "value_ytd_prev_year growth_pct reported_growth_pct source_file_sha256 source_sheet "
                               "source_cell prev_year_source prev_year_last_report prev_year_revision_pct",
    "programme_kpis": "year kpi name_zh value target target_year unit comparison tolerance met status note n_towns source",
    "towns": "town_code county_code name_zh programme tier list_name valid_from valid_to status ended_by decision_id "
             "document_no registry_valid_to event plan_investment_3y",
    "decisions": "decision_id decided_on effective_from town_code county_code name_zh programme action action_zh "
                 "list_name assessment_year answers_proposal proposal_found reason_code document_no decided_by source note "
                 "ends_membership",
    "round_summary": "programme list_name town_code county_code name_zh tier valid_from valid_to status years_on_record "
                     "n_years_on_record n_assessed_years scores_by_year targets_met_by_year proposals_by_year yellow_cards "
                     "decisions fai_since_joining plan_investment_3y plan_progress_ratio plan_time_elapsed_ratio "
                     "fai_as_of_period note",
}


def test_every_column_of_the_contract_has_a_chinese_label():
    unlabelled = [(ds, c) for ds, cols in SPEC_COLUMNS.items() for c in cols.split()
                  if c not in COLUMNS and (ds, c) not in DATASET_COLUMNS]
    assert unlabelled == []
    assert label("decision_zh") == {"label_zh": "决定", "unit": None}
    assert label("fai_since_joining") == {"label_zh": "入列以来累计投资", "unit": "万元"}
    assert label("proposals")["label_zh"].startswith("建议") and "黄牌并列" in label("card_tie")["label_zh"]
    # a column whose codes differ by dataset is labelled for its dataset
    assert "confirmed" in label("source", "decisions")["label_zh"]
    assert label("source", "programme_kpis")["label_zh"] == "工作方案出处"
    assert "已完成" in label("status", "programme_kpis")["label_zh"]
    assert "绿灯" in label("status", "investment_progress")["label_zh"]


def test_every_column_the_dbt_models_document_for_a_dataset_has_a_chinese_label():
    import yaml

    names = {d.name for d in DATASETS}
    documented = []
    for path in sorted((Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts").glob("*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            dataset = model.get("config", {}).get("alias", model["name"])
            if dataset in names:
                documented += [(dataset, c["name"]) for c in model.get("columns", [])]
    assert {d for d, _ in documented} >= {"town_annual_assessment", "investment_progress", "towns"}
    assert [(d, c) for d, c in documented if c not in COLUMNS and (d, c) not in DATASET_COLUMNS] == []


def test_decisions_and_round_summary_are_datasets_with_a_total_order():
    by_name = {d.name: d for d in DATASETS}
    assert by_name["decisions"].order_by == ("decision_id",)
    assert by_name["round_summary"].order_by == ("programme", "list_name", "town_code")
    assert [d.name for d in DATASETS].index("submissions") == len(DATASETS) - 1


def test_the_decisions_register_is_published_and_a_mart_not_yet_built_is_listed(marts, tmp_path):
    marts.execute("create table marts.decisions (decision_id text, decided_on date, town_code text, action text, "
                  "action_zh text, assessment_year integer, answers_proposal text, proposal_found boolean, "
                  "decided_by text, source text, note text)")
    marts.execute("insert into marts.decisions values "
                  "('P-2016-02', '2017-08-02', 'CT-330402-01', 'warning', '警告', 2016, null, false, 'province', "
                  "'confirmed', '2016年度省级特色小镇创建对象考核：警告'), "
                  "('C-2016-01', '2017-04-10', 'PT-330421111', 'yellow_card', '黄牌', 2016, 'yellow_card', true, 'city', "
                  "'illustrative', '=not a formula')")
    result = publish((tmp_path / "pub").as_uri(), marts)
    vdir = tmp_path / "pub" / "v" / result.version
    assert "round_summary" in result.missing_datasets and "decisions" not in result.missing_datasets
    records = json.loads((vdir / "decisions.json").read_text())
    assert [r["decision_id"] for r in records] == ["C-2016-01", "P-2016-02"]  # ordered by decision_id
    assert "'=not a formula" in (vdir / "decisions.csv").read_bytes().decode("utf-8-sig")
    columns = {c["name"]: c for c in json.loads((vdir / "datasets.json").read_text())["decisions"]["columns"]}
    assert columns["action_zh"]["label_zh"] == "决定类型" and columns["proposal_found"]["type"] == "boolean"
    assert "confirmed" in columns["source"]["label_zh"]


def test_publishing_unchanged_data_makes_no_new_version_and_same_bytes(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts, now=datetime(2026, 11, 1, tzinfo=UTC))
    again = publish(url, marts, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert not again.created and again.version == first.version
    assert len(list((tmp_path / "pub" / "v").iterdir())) == 1
    # an independent export of the same marts is byte-identical, file by file
    other = publish((tmp_path / "other").as_uri(), marts, now=datetime(2026, 11, 5, tzinfo=UTC))
    assert [(f["name"], f["sha256"]) for f in other.files] == [(f["name"], f["sha256"]) for f in first.files]
    marts.execute("update marts.towns set status = 'eliminated' where town_code = 'CT-2'")
    third = publish(url, marts, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert third.created and third.version != first.version
    assert read_latest(url)["version"] == third.version


def test_a_failed_audit_leaves_the_previous_latest(marts, tmp_path, monkeypatch):
    url = (tmp_path / "pub").as_uri()
    first = publish(url, marts)
    marts.execute("insert into marts.towns values ('CT-3', '2016-07-01', '新镇', 'active', null)")

    def failing_audit(*args, **kwargs):
        raise AuditError("row counts differ")

    with pytest.raises(AuditError):
        publish(url, marts, audits=[failing_audit])
    assert (Path(tmp_path / "pub") / "LATEST").read_text().strip() == first.version
    assert (tmp_path / "pub" / "latest").resolve().name == first.version
    assert read_latest(url)["version"] == first.version
    monkeypatch.setattr(wap, "audit", failing_audit)
    with pytest.raises(AuditError):
        publish(url, marts)
    assert read_latest(url)["version"] == first.version


def test_retention_keeps_the_newest_versions_and_never_latest(marts, tmp_path):
    url = (tmp_path / "pub").as_uri()
    made = []
    for day in range(1, 6):
        marts.execute("update marts.towns set name_zh = %s where town_code = 'CT-2'", (f"镇{day}",))
        made.append(publish(url, marts, now=datetime(2026, 11, day, tzinfo=UTC)).version)
    (tmp_path / "pub" / "v" / "20261101T000000Z-deadbeef").mkdir()  # an incomplete folder of a failed run
    deleted = prune(url, keep=2)
    assert versions(url) == made[-2:]
    assert set(deleted) == set(made[:3]) | {"20261101T000000Z-deadbeef"}
    # LATEST is kept even when it is not among the newest (after a manual rollback)
    (tmp_path / "pub" / "LATEST").write_text(made[-2] + "\n")
    prune(url, keep=1)
    assert made[-2] in versions(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3-compatible server on loopback (a test double for the object store)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("FSSPEC_S3_KEY", "test")
    monkeypatch.setenv("FSSPEC_S3_SECRET", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import fsspec

    fsspec.config.set_conf_env(fsspec.config.conf)
    fs = fsspec.filesystem("s3", endpoint_url=endpoint, key="test", secret="test", skip_instance_cache=True)
    fs.mkdir("publication")
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)
    fsspec.config.conf.pop("s3", None)


def test_publish_to_an_s3_object_store(marts, s3_server):
    import fsspec

    url = "s3://publication/twotowns"
    first = publish(url, marts)
    again = publish(url, marts)
    assert first.created and not again.created
    fs = fsspec.filesystem("s3", endpoint_url=s3_server, key="test", secret="test", skip_instance_cache=True)
    assert fs.cat_file("publication/twotowns/LATEST").decode().strip() == first.version
    manifest = json.loads(fs.cat_file(f"publication/twotowns/v/{first.version}/manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(fs.cat_file(f"publication/twotowns/v/{first.version}/{f['name']}")).hexdigest() \
            == f["sha256"]
    assert read_latest(url)["version"] == first.version
