-- Sum of towns = county totals: for every county, period, form and indicator, the
-- sum over towns published in town_quarter_indicators equals the sum of the town
-- rows of the county's current report (raw), and the number of towns agrees.
-- (The 合计 rows of the files are checked by the ingest, value.total, and not
-- loaded; this reconciles the warehouse with what was loaded.) Restricted to the
-- partitions the last build of town_quarter_indicators wrote (all after a full refresh).

with report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }} as submissions_current
    where {{ rebuilt_partitions_condition(ref('fct_town_quarter_indicators'), 'submissions_current') }}

),

town_quarter_indicators as (

    select * from {{ ref('fct_town_quarter_indicators') }} as town_quarter_indicators
    where {{ rebuilt_partitions_condition(ref('fct_town_quarter_indicators'), 'town_quarter_indicators') }}

),

raw_totals as (

    select
        report_values.county_code,
        report_values.year,
        report_values.quarter,
        report_values.indicator,
        sum(report_values.value) as total,
        count(*) as n_towns
    from report_values
    inner join submissions_current
        on report_values.submission_id = submissions_current.submission_id
        and report_values.form = submissions_current.form
    where report_values.town_code is not null
    group by 1, 2, 3, 4

),

published_totals as (

    select
        county_code,
        year,
        quarter,
        indicator,
        sum(value_ytd) as total,
        count(*) as n_towns
    from town_quarter_indicators
    group by 1, 2, 3, 4

),

final as (

    select
        coalesce(raw_totals.county_code, published_totals.county_code) as county_code,
        coalesce(raw_totals.year, published_totals.year) as year,
        coalesce(raw_totals.quarter, published_totals.quarter) as quarter,
        coalesce(raw_totals.indicator, published_totals.indicator) as indicator,
        raw_totals.total as raw_total,
        published_totals.total as published_total,
        raw_totals.n_towns as raw_towns,
        published_totals.n_towns as published_towns
    from raw_totals
    full outer join published_totals
        on raw_totals.county_code = published_totals.county_code
        and raw_totals.year = published_totals.year
        and raw_totals.quarter = published_totals.quarter
        and raw_totals.indicator = published_totals.indicator
    where raw_totals.n_towns is distinct from published_totals.n_towns
        or abs(coalesce(raw_totals.total, 0) - coalesce(published_totals.total, 0)) > 0.000001 * raw_totals.n_towns

)

select * from final
