with source as (

    select * from {{ ref('indicators') }}

),

final as (

    select
        form,
        code as indicator,
        name_zh,
        header_aliases,
        unit,
        accepted_units,
        kind,
        (required = 'Y') as is_required,
        value_type,
        parent as parent_indicator,
        description_en
    from source

)

select * from final
