{#- Published dataset town_annual_assessment: one row per town assessed in a
    year (members at the end of Q4 of a year with Q4 data, less the towns whose
    membership period an earlier removal or elimination ended).
    rank_in_tier: rank() by score, highest first, within (year, programme, tier):
    equal scores share a rank (1, 1, 3); no rank without a score.
    notes / notes_en: what the reader needs to know — indicators not scored and the
    rescaling, missing data scored 0, pro-rating of a mid-year joiner, yellow
    cards, removal, elimination, downgrade warning. -#}

with scores as (

    select * from {{ ref('int_assessment_scores') }}

),

consequences as (

    select * from {{ ref('int_assessment_consequences') }}

),

components as (

    select * from {{ ref('int_assessment_components') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

assessment_measures as (

    select * from {{ ref('assessment_measures') }}

),

assessment_reasons as (

    select * from {{ ref('assessment_reasons') }}

),

yellow_card_rules as (

    select * from {{ ref('yellow_card_rules') }}

),

assessed as (

    select
        scores.*,
        consequences.yellow_card,
        consequences.yellow_card_bottom,
        consequences.yellow_card_low_score,
        consequences.yellow_cards_in_round,
        consequences.removed_next_year,
        consequences.eliminated_next_year,
        consequences.eliminated_by_grade,
        consequences.eliminated_by_investment,
        consequences.downgrade_warning
    from scores
    inner join consequences
        on scores.year = consequences.year
        and scores.town_code = consequences.town_code
    where consequences.in_population

),

ranked as (

    select
        assessed.*,
        case
            when assessed.score is not null then rank() over (
                partition by assessed.year, assessed.programme, assessed.tier, (assessed.score is null)
                order by assessed.score desc
            )
        end as rank_in_tier,
        count(assessed.score) over (
            partition by assessed.year, assessed.programme, assessed.tier
        ) as n_ranked_in_tier
    from assessed

),

component_notes as (

    select
        components.year,
        components.town_code,
        string_agg(assessment_measures.name_zh, '、' order by components.indicator)
            filter (where components.reason = 'first_year') as first_year_zh,
        string_agg(components.indicator, ', ' order by components.indicator)
            filter (where components.reason = 'first_year') as first_year_en,
        string_agg(
            assessment_measures.name_zh || '（' || assessment_reasons.name_zh || '）', '、' order by components.indicator
        ) filter (where components.reason is not null and components.reason <> 'first_year') as other_zh,
        string_agg(
            components.indicator || ' (' || assessment_reasons.name_en || ')', '; ' order by components.indicator
        ) filter (where components.reason is not null and components.reason <> 'first_year') as other_en
    from components
    left join assessment_measures
        on components.indicator = assessment_measures.indicator
    left join assessment_reasons
        on components.reason = assessment_reasons.reason
    group by components.year, components.town_code

),

noted as (

    select
        ranked.*,
        concat_ws(
            '；',
            case when ranked.score is null then '无可计分指标，不评分' end,
            case
                when component_notes.first_year_zh is not null
                    then '首年无上年同期数据，' || component_notes.first_year_zh || '不计分，总分按可计分权重'
                        || trim_scale(ranked.scorable_weight)::text || '分折算为百分制'
            end,
            component_notes.other_zh,
            case
                when ranked.member_quarters < 4 and ranked.annual_task_prorated is not null
                    then '年内在册' || ranked.member_quarters || '个季度，年度投资任务按'
                        || ranked.member_quarters || '/4折算为' || trim_scale(ranked.annual_task_prorated)::text || '万元'
                when ranked.member_quarters < 4
                    then '年内在册' || ranked.member_quarters || '个季度'
            end,
            case
                when ranked.yellow_card_bottom and ranked.yellow_card_low_score
                    then '黄牌（得分位列末' || yellow_card_rules.bottom_n || '位且低于' || trim_scale(yellow_card_rules.score_below)::text || '分）'
                when ranked.yellow_card_bottom
                    then '黄牌（得分位列末' || yellow_card_rules.bottom_n || '位）'
                when ranked.yellow_card_low_score
                    then '黄牌（得分低于' || trim_scale(yellow_card_rules.score_below)::text || '分）'
            end,
            case
                when ranked.removed_next_year
                    then '本轮第' || ranked.yellow_cards_in_round || '张黄牌，自下年起调整出试点名单'
            end,
            case
                when ranked.eliminated_by_grade and ranked.eliminated_by_investment
                    then '考核不合格且未完成年度投资任务，自下年1月1日起淘汰'
                when ranked.eliminated_by_grade
                    then '考核不合格，自下年1月1日起淘汰'
                when ranked.eliminated_by_investment
                    then '未完成年度投资任务，自下年1月1日起淘汰'
            end,
            case when ranked.downgrade_warning then '考核不合格，降档预警' end
        ) as notes,
        concat_ws(
            '; ',
            case when ranked.score is null then 'nothing scorable: no score' end,
            case
                when component_notes.first_year_en is not null
                    then 'first year of reporting, not scored: ' || component_notes.first_year_en
                        || '; score rescaled to 100 over the scorable weight of ' || trim_scale(ranked.scorable_weight)::text
            end,
            component_notes.other_en,
            case
                when ranked.member_quarters < 4 and ranked.annual_task_prorated is not null
                    then 'member at the end of ' || ranked.member_quarters || ' quarter(s): annual task pro-rated to '
                        || trim_scale(ranked.annual_task_prorated)::text || ' wan yuan'
                when ranked.member_quarters < 4
                    then 'member at the end of ' || ranked.member_quarters || ' quarter(s)'
            end,
            case
                when ranked.yellow_card_bottom and ranked.yellow_card_low_score
                    then 'yellow card (among the ' || yellow_card_rules.bottom_n || ' lowest scores and below '
                        || trim_scale(yellow_card_rules.score_below)::text || ')'
                when ranked.yellow_card_bottom
                    then 'yellow card (among the ' || yellow_card_rules.bottom_n || ' lowest scores)'
                when ranked.yellow_card_low_score
                    then 'yellow card (score below ' || trim_scale(yellow_card_rules.score_below)::text || ')'
            end,
            case
                when ranked.removed_next_year
                    then 'card ' || ranked.yellow_cards_in_round || ' of the round: removed from the pilot list from next year'
            end,
            case
                when ranked.eliminated_by_grade and ranked.eliminated_by_investment
                    then 'failing grade and investment task not completed: eliminated from 1 January next year'
                when ranked.eliminated_by_grade
                    then 'failing grade: eliminated from 1 January next year'
                when ranked.eliminated_by_investment
                    then 'investment task not completed: eliminated from 1 January next year'
            end,
            case when ranked.downgrade_warning then 'failing grade: downgrade warning' end
        ) as notes_en
    from ranked
    left join component_notes
        on ranked.year = component_notes.year
        and ranked.town_code = component_notes.town_code
    left join yellow_card_rules
        on ranked.programme = yellow_card_rules.programme
        and ranked.tier = yellow_card_rules.tier

),

final as (

    select
        noted.year::integer as year,
        noted.town_code::text as town_code,
        noted.county_code::text as county_code,
        noted.programme::text as programme,
        noted.tier::text as tier,
        noted.score::numeric(20, 6) as score,
        noted.grade::text as grade,
        noted.rank_in_tier::integer as rank_in_tier,
        noted.investment_completion::numeric(20, 6) as investment_completion,
        noted.yellow_card::boolean as yellow_card,
        noted.yellow_cards_in_round::integer as yellow_cards_in_round,
        noted.removed_next_year::boolean as removed_next_year,
        noted.eliminated_next_year::boolean as eliminated_next_year,
        noted.downgrade_warning::boolean as downgrade_warning,
        nullif(noted.notes, '')::text as notes,
        towns.name_zh::text as name_zh,
        noted.list_name::text as list_name,
        noted.n_ranked_in_tier::integer as n_ranked_in_tier,
        noted.member_quarters::integer as member_quarters,
        noted.annual_task_prorated::numeric(20, 6) as annual_task_prorated,
        noted.scorable_weight::numeric(20, 6) as scorable_weight,
        noted.is_rescaled::boolean as rescaled,
        nullif(noted.notes_en, '')::text as notes_en
    from noted
    left join towns
        on noted.town_code = towns.town_code

)

select * from final
