-- Every published value traces to exactly one raw row of a current submission:
-- same file, sheet and cell, same town, period and indicator, same value.
-- Fails with each published row that matches none or more than one. Restricted to
-- the partitions the last build of town_quarter_indicators wrote (all of them after
-- a full refresh); the raw rows are read through their current submissions.

with town_quarter_indicators as (

    select * from {{ ref('fct_town_quarter_indicators') }} as town_quarter_indicators
    where {{ rebuilt_partitions_condition(ref('fct_town_quarter_indicators'), 'town_quarter_indicators') }}

),

report_values as (

    select * from {{ ref('stg_raw__report_values') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }} as submissions_current
    where {{ rebuilt_partitions_condition(ref('fct_town_quarter_indicators'), 'submissions_current') }}

),

current_raw as (

    select report_values.*
    from report_values
    inner join submissions_current
        on report_values.submission_id = submissions_current.submission_id
        and report_values.form = submissions_current.form

),

matches as (

    select
        town_quarter_indicators.year,
        town_quarter_indicators.quarter,
        town_quarter_indicators.town_code,
        town_quarter_indicators.indicator,
        count(current_raw.submission_id) as n_raw_rows
    from town_quarter_indicators
    left join current_raw
        on town_quarter_indicators.source_file_sha256 = current_raw.source_file_sha256
        and town_quarter_indicators.source_sheet = current_raw.source_sheet
        and town_quarter_indicators.source_cell = current_raw.source_cell
        and town_quarter_indicators.town_code = current_raw.town_code
        and town_quarter_indicators.year = current_raw.year
        and town_quarter_indicators.quarter = current_raw.quarter
        and town_quarter_indicators.indicator = current_raw.indicator
        and town_quarter_indicators.value_ytd is not distinct from current_raw.value
    group by 1, 2, 3, 4

),

final as (

    select * from matches
    where n_raw_rows <> 1

)

select * from final
