{% macro members_on(days, memberships, decisions, decision_actions) -%}
{#- THE definition of membership (programme-rules section 1), written once.

    The members on each day of `days` (a relation with one column `day`): the
    registry's list memberships covering that day (valid_from <= day <= valid_to,
    valid_to inclusive, open when empty), less those that a recorded decision
    whose action ends a membership (seed decision_actions: eliminate, remove,
    downgrade) has ended by that day: a decision on the same town, programme and
    list, effective after the membership began and on or before the day (it ends
    the membership on effective_from - 1 day).

    Used by the warehouse (int_memberships_quarterly, int_memberships_effective)
    and, on the same seed files, by ingest (ingest/registry.py evaluates this
    macro in SQLite when it checks which towns must report), so ingest, the
    warehouse and the publication can never disagree. Portable SQL only: dates
    compare as dates in PostgreSQL and as ISO text in SQLite; no date arithmetic. -#}
select
    days.day,
    memberships.town_code,
    memberships.programme,
    memberships.tier,
    memberships.list_name,
    memberships.valid_from,
    memberships.valid_to,
    memberships.plan_investment_3y,
    memberships.event
from {{ days }} as days
inner join {{ memberships }} as memberships
    on memberships.valid_from <= days.day
    and (memberships.valid_to is null or days.day <= memberships.valid_to)
where not exists (
    select 1
    from {{ decisions }} as decisions
    inner join {{ decision_actions }} as decision_actions
        on decisions.action = decision_actions.action
    where decision_actions.ends_membership
        and decisions.town_code = memberships.town_code
        and decisions.programme = memberships.programme
        and decisions.list_name = memberships.list_name
        and decisions.effective_from > memberships.valid_from
        and decisions.effective_from <= days.day
)
{%- endmacro %}
