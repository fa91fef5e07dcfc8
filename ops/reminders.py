"""After a quarter's reporting deadline: where does every county stand, who gets a reminder.

For each county and the period whose deadline has passed:

| status | meaning | reminder |
|---|---|---|
| `on_time` | every required form accepted from reports received by the deadline | no |
| `late` | complete now, but only thanks to reports received after the deadline (marked late) | no |
| `incomplete` | accepted reports, but a required form is still missing (e.g. CSV files one form each) | yes |
| `refused` | reports received, all refused, no corrected report accepted yet | yes |
| `missing` | nothing received | yes |

Each county's status also names the member towns its report must hold for the period (the
one membership definition, core.registry.members: the registry's lists less what recorded
decisions ended, on the quarter's last day) and, against the quarter before, the towns that
join (new members: they must be reported from this period) and those that leave (ended
memberships: they must not be reported), so that a reminder chases new members too and the
first report of a new year is sent with that year's members.

Reminders go to the county's outbox (`<outbox>/<county>/reminder-<period>.json` and
`.html`, Chinese first); the status of all counties goes to
`<var>/deadlines/<period>.json`; the team gets one alert when any county is not on time.
Running it again for the same period and day writes the same files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import config, registry
from core.files import write_atomic
from core.periods import Period, find_period
from ingest.current import required_forms

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
NEEDS_REMINDER = ("incomplete", "refused", "missing")
STATUS_ZH = {"on_time": "按时报送", "late": "逾期报送", "incomplete": "报送不完整", "refused": "报表被退回，尚未重报",
             "missing": "未报送"}


@dataclass
class CountyStatus:
    county_code: str
    county_name: str
    period: str
    deadline: str
    status: str
    status_zh: str
    required_forms: list[str]
    missing_forms: list[str]
    late_forms: list[str] = field(default_factory=list)  # forms that arrived only after the deadline
    accepted: int = 0
    refused: int = 0
    last_received_at: str | None = None
    members: list[dict] = field(default_factory=list)  # {form, town_code, name_zh} the report must hold
    joined: list[dict] = field(default_factory=list)  # members now that were not at the previous quarter end
    left: list[dict] = field(default_factory=list)  # members at the previous quarter end that are not now

    @property
    def needs_reminder(self) -> bool:
        return self.status in NEEDS_REMINDER


def parse_period(text: str) -> Period:
    period = find_period(text)
    if period is None:
        raise ValueError(f"not a reporting period: {text!r} (e.g. 2016Q3)")
    return period


def due_period(today: date) -> Period:
    """The latest quarter whose reporting deadline has passed by `today` (Asia/Shanghai)."""
    p = Period(today.year, (today.month - 1) // 3 + 1)
    while p.deadline >= today:
        p = p.previous()
    return p


def local_today(when: datetime | None = None) -> date:
    return (when or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ).date()


def county_members(county_code: str, period: Period) -> tuple[list[dict], list[dict], list[dict]]:
    """(members the report must hold, joined since the previous quarter end, left since then)."""
    def at(day: date) -> dict[tuple[str, str], dict]:
        return {(form, t.code): {"form": form, "town_code": t.code, "name_zh": t.name_zh}
                for form, programme in registry.form_programmes().items()
                for t in registry.members(county_code, programme, day)}

    now, before = at(period.end), at(period.previous().end)
    return (list(now.values()), [m for k, m in now.items() if k not in before],
            [m for k, m in before.items() if k not in now])


def deadline_status(conn, period: Period) -> list[CountyStatus]:
    """Where each county of the registry stands for `period` (judged now, against its deadline)."""
    rows = conn.execute(
        "select county_code, status, coalesce(late, false), forms, received_at from landing.submissions "
        "where year = %s and quarter = %s and county_code is not null and status in ('accepted', 'refused')",
        (period.year, period.quarter)).fetchall()
    statuses = []
    for county in registry.counties():
        mine = [r for r in rows if r[0] == county.code]
        required = required_forms(county.code, period)
        accepted_forms = {f for _, s, _, forms, _ in mine if s == "accepted" for f in forms}
        on_time_forms = {f for _, s, late, forms, _ in mine if s == "accepted" and not late for f in forms}
        missing = sorted(required - accepted_forms)
        late_forms = sorted((required & accepted_forms) - on_time_forms)
        n_accepted = sum(s == "accepted" for _, s, *_ in mine)
        n_refused = sum(s == "refused" for _, s, *_ in mine)
        if not missing:
            status = "late" if late_forms else "on_time"
        elif n_accepted:
            status = "incomplete"
        elif n_refused:
            status = "refused"
        else:
            status = "missing"
        last = max((r[4] for r in mine), default=None)
        members, joined, left = county_members(county.code, period)
        statuses.append(CountyStatus(
            county_code=county.code, county_name=county.name_zh, period=str(period),
            deadline=period.deadline.isoformat(), status=status, status_zh=STATUS_ZH[status],
            required_forms=sorted(required), missing_forms=missing, late_forms=late_forms,
            accepted=n_accepted, refused=n_refused,
            last_received_at=last.astimezone(LOCAL_TZ).isoformat(timespec="minutes") if last else None,
            members=members, joined=joined, left=left))
    return statuses


def _render_html(doc: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, keep_trailing_newline=True)
    return env.get_template("reminder.html.j2").render(doc=doc)


def write_reminder(status: CountyStatus, as_of: date) -> list[Path]:
    """`<outbox>/<county>/reminder-<period>.json` and `.html` for one county."""
    doc = {**asdict(status), "as_of": as_of.isoformat(), "kind": "reminder"}
    folder = config.outbox_dir() / status.county_code
    json_path = folder / f"reminder-{status.period}.json"
    html_path = folder / f"reminder-{status.period}.html"
    write_atomic(json_path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    write_atomic(html_path, _render_html(doc))
    return [json_path, html_path]


def status_report_path(period: Period | str) -> Path:
    return config.var_dir() / "deadlines" / f"{period}.json"


def remind(period: Period | str | None = None, today: date | None = None, *, alert: bool = True) -> dict:
    """Judge every county for `period` (default: the quarter whose deadline passed last), write
    the reminders and the status report, alert the team; return a summary."""
    from core.warehouse import connect

    today = today or local_today()
    period = parse_period(period) if isinstance(period, str) else (period or due_period(today))
    if period.deadline >= today:
        raise ValueError(f"the deadline of {period} is {period.deadline}: it has not passed on {today}; "
                         "reminders go out the day after the deadline")
    with connect() as conn:
        statuses = deadline_status(conn, period)
    written = [str(p) for s in statuses if s.needs_reminder for p in write_reminder(s, today)]
    by_status: dict[str, list[str]] = {}
    for s in statuses:
        by_status.setdefault(s.status, []).append(s.county_code)
    report = {"period": str(period), "deadline": period.deadline.isoformat(), "as_of": today.isoformat(),
              "by_status": by_status, "counties": [asdict(s) for s in statuses]}
    write_atomic(status_report_path(period), json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    summary = {"period": str(period), "deadline": period.deadline.isoformat(), "as_of": today.isoformat(),
               "by_status": by_status, "reminders": [s.county_code for s in statuses if s.needs_reminder],
               "files": written, "status_report": str(status_report_path(period)), "alerted": False}
    not_on_time = [s for s in statuses if s.status != "on_time"]
    if alert and not_on_time:
        from ops.alerts import Alert, send

        counts = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_status.items()))
        lines = [f"{s.county_code} {s.county_name}: {s.status}"
                 + (f" (missing {', '.join(s.missing_forms)})" if s.missing_forms else "")
                 + (f" (late: {', '.join(s.late_forms)})" if s.late_forms else "") for s in not_on_time]
        send(Alert(kind="deadline.missed", severity="warning",
                   title=f"{period} reporting deadline {period.deadline}: {counts}",
                   text="\n".join(lines) + f"\n\nreminders written for: {', '.join(summary['reminders']) or 'none'}",
                   periods=[str(period)], details={"by_status": by_status}))
        summary["alerted"] = True
    return summary
