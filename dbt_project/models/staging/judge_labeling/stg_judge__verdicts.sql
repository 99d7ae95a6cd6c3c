with source as (
    select * from {{ source('prefline', 'judge_verdicts') }}
),

renamed as (
    select
        pair_id,
        judge_id,
        judge_version,
        rubric_version,
        verdict_ab,
        verdict_ba,
        winner,
        confidence,
        reason,
        audit_flag
    from source
)

select * from renamed
