{#- The calendar of reporting quarters: Q1 of var first_year through Q4 of the
    later of var last_year and the last year reported (earlier years reported
    extend it backwards). quarter_index numbers quarters consecutively, so the
    quarter before index n is n - 1 across year ends. deadline: the quarter end
    plus the days of seed reporting_deadlines. -#}

with reported as (

    {#- the periods of the values: those of their submissions (accepted or pending:
        refused ones keep no values), read from the small submissions table -#}
    select year from {{ ref('stg_landing__submissions') }}
    where status in ('accepted', 'pending')

),

reporting_deadlines as (

    select * from {{ ref('reporting_deadlines') }}

),

bounds as (

    select
        least({{ var('first_year') }}, coalesce(min(year), {{ var('first_year') }})) as first_year,
        greatest({{ var('last_year') }}, coalesce(max(year), {{ var('last_year') }})) as last_year
    from reported

),

quarters as (

    select
        years.year::integer as year,
        quarters.quarter::integer as quarter
    from bounds
    cross join lateral generate_series(bounds.first_year, bounds.last_year) as years (year)
    cross join generate_series(1, 4) as quarters (quarter)

),

calendar as (

    select
        year,
        quarter,
        year || 'Q' || quarter as period,
        year * 4 + quarter - 1 as quarter_index,
        make_date(year, quarter * 3 - 2, 1) as quarter_start,
        (make_date(year, quarter * 3 - 2, 1) + interval '3 months' - interval '1 day')::date as quarter_end
    from quarters

),

final as (

    select
        calendar.*,
        calendar.quarter_end + reporting_deadlines.days_after_quarter_end as deadline
    from calendar
    left join reporting_deadlines
        on calendar.quarter = reporting_deadlines.quarter

)

select * from final
