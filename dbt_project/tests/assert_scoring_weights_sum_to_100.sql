-- The weights of every tier's scoring scheme, in every year it applies, sum to 100 (the total is out of 100),
-- and every target differs from its floor (the formula divides by target − floor).

with scoring_indicators as (

    select * from {{ ref('scoring_indicators') }}

),

final as (

    select
        programme,
        tier,
        valid_from_year,
        sum(weight) as total_weight,
        count(*) filter (where target = floor) as n_target_equals_floor
    from scoring_indicators
    group by programme, tier, valid_from_year
    having sum(weight) <> 100
        or count(*) filter (where target = floor) > 0

)

select * from final
