with source as (

    select * from {{ ref('decisions') }}

),

final as (

    select
        decision_id,
        decided_on,
        effective_from,
        town_code,
        programme,
        action,
        list_name,
        assessment_year,
        answers_proposal,
        reason_code,
        document_no,
        decided_by,
        source,
        note
    from source

)

select * from final
