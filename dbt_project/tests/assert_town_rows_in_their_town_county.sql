-- A town's rows of town_quarter_indicators lie in its own county's partitions (the
-- county of the registry's towns seed). With this, the uniqueness of (year, quarter,
-- town_code, indicator), tested within the partitions the last build wrote, holds
-- over the whole table: a town's rows cannot be in two counties' partitions.
-- Restricted to the partitions the last build wrote (all after a full refresh); a
-- change of a town's county in the seed rebuilds both counties' partitions
-- (town_quarter_inputs).

select
    town_quarter_indicators.county_code,
    town_quarter_indicators.year,
    town_quarter_indicators.quarter,
    town_quarter_indicators.town_code,
    towns.county_code as town_county_code
from {{ ref('fct_town_quarter_indicators') }} as town_quarter_indicators
left join {{ ref('stg_seeds__towns') }} as towns
    on town_quarter_indicators.town_code = towns.town_code
where {{ rebuilt_partitions_condition(ref('fct_town_quarter_indicators'), 'town_quarter_indicators') }}
    and towns.county_code is distinct from town_quarter_indicators.county_code
