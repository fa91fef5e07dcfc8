{#- Published dataset decisions: the decisions register (registry/decisions.csv)
    as recorded and known as of the build, with the town, the meaning of the action
    and whether the proposal it answers exists (proposal_found: our proposal of that
    code for that town-year; null when the decision answers none, as the province's
    own decisions and awards outside an assessment). Indexed by town: the marts
    checks look up each assessed town's decisions (285k town-years at nation scale). -#}

{{ config(indexes=[{'columns': ['town_code']}]) }}

with decisions as (

    select * from {{ ref('int_decisions') }}

),

towns as (

    select * from {{ ref('stg_seeds__towns') }}

),

assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

final as (

    select
        decisions.decision_id::text as decision_id,
        decisions.decided_on::date as decided_on,
        decisions.effective_from::date as effective_from,
        decisions.town_code::text as town_code,
        towns.county_code::text as county_code,
        towns.name_zh::text as name_zh,
        decisions.programme::text as programme,
        decisions.action::text as action,
        decisions.action_zh::text as action_zh,
        decisions.list_name::text as list_name,
        decisions.assessment_year::integer as assessment_year,
        decisions.answers_proposal::text as answers_proposal,
        (case
            when decisions.answers_proposal is not null
                then coalesce(decisions.answers_proposal = any(string_to_array(assessment.proposals, ',')), false)
        end)::boolean as proposal_found,
        decisions.reason_code::text as reason_code,
        decisions.document_no::text as document_no,
        decisions.decided_by::text as decided_by,
        decisions.source::text as source,
        decisions.note::text as note,
        decisions.ends_membership::boolean as ends_membership
    from decisions
    left join towns
        on decisions.town_code = towns.town_code
    left join assessment
        on decisions.town_code = assessment.town_code
        and decisions.assessment_year = assessment.year

)

select * from final
