{#- The lineage of the marts: the current submission of every (county, year, quarter, form) that this build
    read (int_submissions_current), i.e. which file each value of the marts comes from. It is a mart, in the
    schema the marts are switched in with, so that it always describes the marts beside it: the
    publication's manifest reads its lineage here (publish/wap.py), never from landing, which may already
    hold a decision the published build has not seen. Not a published dataset; BI tools may read it. -#}

with submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

final as (

    select
        county_code::text as county_code,
        year::integer as year,
        quarter::integer as quarter,
        form::text as form,
        version::integer as version,
        file_sha256::text as file_sha256,
        received_at
    from submissions_current

)

select * from final
