{#- Published dataset town_annual_assessment: one row per town and assessed year
    (programme-rules sections 4 and 5; a year no policy covers, such as the 2015
    baseline, has no rows). The platform proposes, the city decides: `proposals`
    are computed (int_assessment_proposals), `decision` and the booleans
    yellow_card, removed_next_year, eliminated_next_year come only from the
    decisions register (int_decisions, the decisions answering this town-year).
    downgrade_warning = the downgrade_risk proposal (an early warning). Every
    proposal carries its reason (Chinese and English); notes say what the reader
    needs to know about the score (indicators not scored and the rescaling, pending
    data, a joiner's quarters, a default annual task, a non-comparable score). -#}

with proposals as (

    select * from {{ ref('int_assessment_proposals') }}

),

components as (

    select * from {{ ref('int_assessment_components') }}

),

decisions as (

    select * from {{ ref('int_decisions') }}

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

proposal_names as (

    select * from {{ ref('proposals') }}

),

town_year_decisions as (

    select
        assessment_year as year,
        town_code,
        string_agg(action, ',' order by decided_on, decision_id) as decision,
        string_agg(action_zh, '、' order by decided_on, decision_id) as decision_zh,
        max(decided_on) as decided_on,
        string_agg(document_no, '、' order by decided_on, decision_id) as document_no,
        string_agg(distinct decided_by, ',') as decided_by,
        string_agg(note, '；' order by decided_on, decision_id) as decision_notes,
        bool_or(action = 'yellow_card') as yellow_card,
        bool_or(action = 'remove') as removed_next_year,
        bool_or(action = 'eliminate') as eliminated_next_year
    from decisions
    where assessment_year is not null
    group by 1, 2

),

reasons as (

    select
        proposals.year,
        proposals.town_code,
        {%- set score_text = "trim_scale(round(proposals.score, 2))::text" %}
        {{ grade_or_task_reason('propose_eliminate', 'eliminate_on_failing_grade', 'eliminate_below_completion', 'eliminate') }},
        case when proposals.propose_yellow_card then
            '得分' || {{ score_text }} || '，在本轮' || proposals.card_group_size || '个可比试点镇中位列末'
            || proposals.card_bottom_n || '位且低于中位数' || trim_scale(round(proposals.card_group_median::numeric, 2))::text
            || case when proposals.card_tie then '（与临界分并列）' else '' end
        end as yellow_card_zh,
        case when proposals.propose_yellow_card then
            'score ' || {{ score_text }} || ' among the ' || proposals.card_bottom_n || ' lowest of '
            || proposals.card_group_size || ' comparable scores of the round and below the median '
            || trim_scale(round(proposals.card_group_median::numeric, 2))::text
            || case when proposals.card_tie then ' (tied at the cut-off)' else '' end
        end as yellow_card_en,
        case when proposals.propose_remove then
            '本轮第' || proposals.decided_cards_in_round || '张黄牌（已决定）'
        end as remove_zh,
        case when proposals.propose_remove then
            'yellow card ' || proposals.decided_cards_in_round || ' of the round (decided)'
        end as remove_en,
        {{ grade_or_task_reason('propose_downgrade_risk', 'risk_on_failing_grade', 'risk_below_completion', 'downgrade_risk') }},
        case when proposals.propose_excellent_candidate then
            '等次' || proposals.grade || '，层级内排名第' || proposals.rank_in_tier
        end as excellent_candidate_zh,
        case when proposals.propose_excellent_candidate then
            'grade ' || proposals.grade || ', rank ' || proposals.rank_in_tier || ' in its tier'
        end as excellent_candidate_en
    from proposals

),

proposal_list as (

    select
        reasons.year,
        reasons.town_code,
        coalesce(string_agg(proposal_names.proposal, ',' order by proposal_names.sort_order), '') as proposals,
        string_agg(proposal_names.name_zh || '：' || item.reason_zh, '；' order by proposal_names.sort_order)
            as proposal_reasons_zh,
        string_agg(proposal_names.name_en || ': ' || item.reason_en, '; ' order by proposal_names.sort_order)
            as proposal_reasons_en
    from reasons
    left join lateral (
        values
            ('eliminate', reasons.eliminate_zh, reasons.eliminate_en),
            ('yellow_card', reasons.yellow_card_zh, reasons.yellow_card_en),
            ('remove', reasons.remove_zh, reasons.remove_en),
            ('downgrade_risk', reasons.downgrade_risk_zh, reasons.downgrade_risk_en),
            ('excellent_candidate', reasons.excellent_candidate_zh, reasons.excellent_candidate_en)
    ) as item (proposal, reason_zh, reason_en)
        on item.reason_zh is not null
    left join proposal_names
        on item.proposal = proposal_names.proposal
    group by 1, 2

),

component_notes as (

    select
        components.year,
        components.town_code,
        string_agg(
            assessment_measures.name_zh || '（' || assessment_reasons.name_zh || '）', '、' order by components.indicator
        ) filter (where components.reason is not null) as reasons_zh,
        string_agg(
            components.indicator || ' (' || assessment_reasons.name_en || ')', '; ' order by components.indicator
        ) filter (where components.reason is not null) as reasons_en
    from components
    left join assessment_measures
        on components.indicator = assessment_measures.indicator
    left join assessment_reasons
        on components.reason = assessment_reasons.reason
    group by 1, 2

),

noted as (

    select
        proposals.*,
        concat_ws('；',
            case when proposals.pending then '待数据：结果待第四季度报表到达后计算' end,
            component_notes.reasons_zh,
            case when proposals.is_rescaled and not proposals.pending
                then '总分按可计分权重' || trim_scale(proposals.scorable_weight)::text || '分折算为百分制' end,
            case when proposals.score is not null and not proposals.comparable
                then '可计分权重不足' || trim_scale(round(proposals.min_comparable_weight_share * 100, 1))::text
                    || '%，得分不可比：不参与排名，不作为建议依据' end,
            case when proposals.member_quarters < 4
                then '年内在册' || proposals.member_quarters || '个季度，按全年数据和全年任务考核' end,
            case when proposals.annual_task_source = 'default' then '年度任务未下达，按三年计划1/'
                || trim_scale(proposals.default_annual_task_divisor)::text || '测算' end
        ) as notes,
        concat_ws('; ',
            case when proposals.pending then 'pending: computed once the Q4 report arrives' end,
            component_notes.reasons_en,
            case when proposals.is_rescaled and not proposals.pending
                then 'score rescaled to 100 over the scored weight of ' || trim_scale(proposals.scorable_weight)::text end,
            case when proposals.score is not null and not proposals.comparable
                then 'scored weight below ' || trim_scale(round(proposals.min_comparable_weight_share * 100, 1))::text
                    || '%: not comparable, not ranked, no proposal' end,
            case when proposals.member_quarters < 4
                then 'member at the end of ' || proposals.member_quarters
                    || ' quarter(s): assessed on whole-year values and the whole-year task' end,
            case when proposals.annual_task_source = 'default'
                then 'no annual task assigned: the 3-year plan / '
                || trim_scale(proposals.default_annual_task_divisor)::text end
        ) as notes_en
    from proposals
    left join component_notes
        on proposals.year = component_notes.year
        and proposals.town_code = component_notes.town_code

),

final as (

    select
        noted.year::integer as year,
        noted.town_code::text as town_code,
        noted.county_code::text as county_code,
        towns.name_zh::text as name_zh,
        noted.programme::text as programme,
        noted.tier::text as tier,
        noted.list_name::text as list_name,
        noted.member_quarters::integer as member_quarters,
        noted.score::numeric(20, 6) as score,
        noted.grade::text as grade,
        noted.rank_in_tier::integer as rank_in_tier,
        noted.n_ranked_in_tier::integer as n_ranked_in_tier,
        noted.comparable::boolean as comparable,
        noted.pending::boolean as pending,
        (case when noted.pending then noted.awaited_county_code end)::text as awaited_counties,
        round(noted.investment_completion, 6)::numeric(20, 6) as investment_completion,
        noted.annual_task::numeric(20, 6) as annual_task,
        noted.annual_task_source::text as annual_task_source,
        noted.scorable_weight::numeric(20, 6) as scorable_weight,
        (noted.is_rescaled and not noted.pending)::boolean as rescaled,
        proposal_list.proposals::text as proposals,
        noted.card_tie::boolean as card_tie,
        proposal_list.proposal_reasons_zh::text as proposal_reasons_zh,
        proposal_list.proposal_reasons_en::text as proposal_reasons_en,
        town_year_decisions.decision::text as decision,
        town_year_decisions.decision_zh::text as decision_zh,
        town_year_decisions.decided_on::date as decided_on,
        nullif(town_year_decisions.document_no, '')::text as document_no,
        town_year_decisions.decided_by::text as decided_by,
        town_year_decisions.decision_notes::text as decision_notes,
        coalesce(town_year_decisions.yellow_card, false)::boolean as yellow_card,
        noted.decided_cards_in_round::integer as yellow_cards_in_round,
        coalesce(town_year_decisions.removed_next_year, false)::boolean as removed_next_year,
        coalesce(town_year_decisions.eliminated_next_year, false)::boolean as eliminated_next_year,
        noted.propose_downgrade_risk::boolean as downgrade_warning,
        nullif(noted.notes, '')::text as notes,
        nullif(noted.notes_en, '')::text as notes_en
    from noted
    left join proposal_list
        on noted.year = proposal_list.year
        and noted.town_code = proposal_list.town_code
    left join town_year_decisions
        on noted.year = town_year_decisions.year
        and noted.town_code = town_year_decisions.town_code
    left join towns
        on noted.town_code = towns.town_code

)

select * from final
