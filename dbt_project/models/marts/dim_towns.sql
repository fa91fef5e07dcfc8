{#- Published dataset: one row per town and membership period. status:
    active while valid_to is open or not yet past (as of var as_of_date, else
    the current date); an ended period followed by another period of the town
    takes the status the next period's event gives it (membership_events:
    promote -> promoted, downgrade -> downgraded, join -> completed); an ended
    period with nothing after it takes its programme's exit status (programmes:
    characteristic -> eliminated, pilot -> removed). -#}

{%- set as_of_date = var('as_of_date') %}

with memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

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
        {% if as_of_date %}'{{ as_of_date }}'::date{% else %}current_date{% endif %} as as_of_date
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
            when periods.next_event is not null then membership_events.previous_period_status
            else programmes.exit_status
        end)::text as status
    from periods
    left join towns
        on periods.town_code = towns.town_code
    left join membership_events
        on periods.next_event = membership_events.event
    left join programmes
        on periods.programme = programmes.programme

)

select * from final
