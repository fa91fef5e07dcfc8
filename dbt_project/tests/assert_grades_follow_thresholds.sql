-- Every grade is the one of seed assessment_grades valid in the year with the
-- highest min_score the score reaches; no score, no grade.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

assessment_grades as (

    select * from {{ ref('assessment_grades') }}

),

expected as (

    select
        annual_assessment.year,
        annual_assessment.town_code,
        annual_assessment.score,
        annual_assessment.grade,
        (
            select assessment_grades.grade
            from assessment_grades
            where annual_assessment.score >= assessment_grades.min_score
                and {{ in_force('assessment_grades', 'annual_assessment.year') }}
            order by assessment_grades.min_score desc
            limit 1
        ) as expected_grade
    from annual_assessment

),

final as (

    select * from expected
    where grade is distinct from expected_grade

)

select * from final
