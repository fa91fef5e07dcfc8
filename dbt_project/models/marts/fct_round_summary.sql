{#- Published dataset round_summary (绩效评估, programme-rules section 6): one row per
    membership period of a town in a round or batch (programme, list_name), with what
    the platform holds of it: the years on record (monitored town-years of that list),
    score and grade of every assessed year, targets met per year (pilot towns), the
    proposals, the decided yellow cards and every decision on the town in that list,
    and the cumulative FAI since joining against the 3-year plan (characteristic
    towns: the latest quarter on record). A round whose years on record were not
    assessed (municipal pilot round 1: the platform holds 2015, the baseline) reports
    its values on record without a score, and says so. -#}

with towns as (

    select * from {{ ref('dim_towns') }}

),

town_years as (

    select * from {{ ref('int_town_years') }}

),

assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

pilot_targets as (

    select * from {{ ref('fct_pilot_targets') }}

),

decisions as (

    select * from {{ ref('fct_decisions') }}

),

investment_progress as (

    select * from {{ ref('fct_investment_progress') }}

),

years_on_record as (

    select
        town_years.town_code,
        town_years.list_name,
        min(town_years.year) as first_year,
        max(town_years.year) as last_year,
        count(*) as n_years,
        string_agg(town_years.year::text, ',' order by town_years.year) as years,
        count(*) filter (where town_years.assessed) as n_assessed_years
    from town_years
    group by 1, 2

),

scores as (

    select
        assessment.town_code,
        assessment.list_name,
        string_agg(
            assessment.year || '：' || coalesce(
                trim_scale(round(assessment.score, 2))::text || '分 ' || assessment.grade
                    || case when not assessment.comparable then '（不可比）' else '' end,
                '待数据'
            ),
            '；' order by assessment.year
        ) as scores_by_year,
        string_agg(
            case when assessment.proposals <> '' then assessment.year || '：' || assessment.proposals end,
            '；' order by assessment.year
        ) as proposals_by_year,
        count(*) filter (where assessment.yellow_card) as yellow_cards
    from assessment
    group by 1, 2

),

targets as (

    select
        assessment.town_code,
        assessment.list_name,
        string_agg(
            pilot_targets.year || '：' || pilot_targets.n_targets_met || '/' || pilot_targets.n_targets,
            '；' order by pilot_targets.year
        ) as targets_met_by_year
    from pilot_targets
    inner join assessment
        on pilot_targets.year = assessment.year
        and pilot_targets.town_code = assessment.town_code
    where pilot_targets.n_targets > 0
    group by 1, 2

),

town_decisions as (

    select
        decisions.town_code,
        decisions.list_name,
        string_agg(
            decisions.decided_on || ' ' || decisions.action_zh || coalesce('（' || decisions.document_no || '）', ''),
            '；' order by decisions.decided_on, decisions.decision_id
        ) as decisions
    from decisions
    group by 1, 2

),

latest_progress as (

    select distinct on (investment_progress.town_code, investment_progress.join_year)
        investment_progress.town_code,
        investment_progress.join_year,
        investment_progress.year,
        investment_progress.quarter,
        investment_progress.fai_since_joining,
        investment_progress.plan_progress_ratio,
        investment_progress.plan_time_elapsed_ratio
    from investment_progress
    order by investment_progress.town_code, investment_progress.join_year,
        investment_progress.year desc, investment_progress.quarter desc

),

final as (

    select
        towns.programme::text as programme,
        towns.list_name::text as list_name,
        towns.town_code::text as town_code,
        towns.county_code::text as county_code,
        towns.name_zh::text as name_zh,
        towns.tier::text as tier,
        towns.valid_from::date as valid_from,
        towns.valid_to::date as valid_to,
        towns.status::text as status,
        years_on_record.years::text as years_on_record,
        coalesce(years_on_record.n_years, 0)::integer as n_years_on_record,
        coalesce(years_on_record.n_assessed_years, 0)::integer as n_assessed_years,
        scores.scores_by_year::text as scores_by_year,
        targets.targets_met_by_year::text as targets_met_by_year,
        scores.proposals_by_year::text as proposals_by_year,
        coalesce(scores.yellow_cards, 0)::integer as yellow_cards,
        town_decisions.decisions::text as decisions,
        latest_progress.fai_since_joining::numeric(20, 6) as fai_since_joining,
        towns.plan_investment_3y::numeric(20, 6) as plan_investment_3y,
        latest_progress.plan_progress_ratio::numeric(20, 6) as plan_progress_ratio,
        latest_progress.plan_time_elapsed_ratio::numeric(20, 6) as plan_time_elapsed_ratio,
        (latest_progress.year || 'Q' || latest_progress.quarter)::text as fai_as_of_period,
        (case
            when coalesce(years_on_record.n_years, 0) = 0 then '平台无该名单在册年度的数据'
            when coalesce(years_on_record.n_assessed_years, 0) = 0
                then '在册年度（' || years_on_record.years || '）不在考核政策适用年度内，仅列示在册数据，不评分'
        end)::text as note
    from towns
    left join years_on_record
        on towns.town_code = years_on_record.town_code
        and towns.list_name = years_on_record.list_name
    left join scores
        on towns.town_code = scores.town_code
        and towns.list_name = scores.list_name
    left join targets
        on towns.town_code = targets.town_code
        and towns.list_name = targets.list_name
    left join town_decisions
        on towns.town_code = town_decisions.town_code
        and towns.list_name = town_decisions.list_name
    left join latest_progress
        on towns.town_code = latest_progress.town_code
        and towns.programme = 'characteristic'
        and extract(year from towns.valid_from)::integer = latest_progress.join_year

)

select * from final
