{#- Published dataset towns: one row per town and membership period, as it stands
    after the recorded decisions (int_memberships_effective). status:
      active      the period is open or its end is not yet past (as of var
                  as_of_date, else today), or it ended and the town continues in
                  the next list or round of the same programme (event join);
      eliminated / removed / downgraded
                  a recorded decision ended the period (decision_id, document_no);
      promoted / downgraded
                  the next period of the town starts with that event;
      otherwise   the programme's exit status (programmes: characteristic →
                  eliminated, pilot → removed) for a period the registry ends with
                  nothing after it. Only decisions change membership: no
                  computation ends a period. -#}

with memberships as (

    select * from {{ ref('int_memberships_effective') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

programmes as (

    select * from {{ ref('programmes') }}

),

membership_events as (

    select * from {{ ref('membership_events') }}

),

periods as (

    select
        memberships.*,
        lead(memberships.event) over (
            partition by memberships.town_code, memberships.programme
            order by memberships.valid_from
        ) as next_event,
        {{ as_of_date() }} as as_of_date
    from memberships

),

final as (

    select
        periods.town_code::text as town_code,
        towns.county_code::text as county_code,
        towns.name_zh::text as name_zh,
        periods.programme::text as programme,
        periods.tier::text as tier,
        periods.list_name::text as list_name,
        periods.valid_from::date as valid_from,
        periods.valid_to::date as valid_to,
        (case
            when periods.valid_to is null or periods.valid_to >= periods.as_of_date then 'active'
            when periods.decided_status is not null then periods.decided_status
            when periods.next_event is not null then membership_events.previous_period_status
            else programmes.exit_status
        end)::text as status,
        periods.ended_by::text as ended_by,
        periods.decision_id::text as decision_id,
        periods.document_no::text as document_no,
        periods.registry_valid_to::date as registry_valid_to,
        periods.event::text as event,
        periods.plan_investment_3y::numeric(20, 6) as plan_investment_3y
    from periods
    left join towns
        on periods.town_code = towns.town_code
    left join membership_events
        on periods.next_event = membership_events.event
    left join programmes
        on periods.programme = programmes.programme

)

select * from final
