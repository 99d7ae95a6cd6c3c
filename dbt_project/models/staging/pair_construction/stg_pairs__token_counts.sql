with source as (
    select * from {{ source('prefline', 'pair_token_counts') }}
),

renamed as (
    select
        pair_id,
        prompt_tokens,
        a_tokens,
        b_tokens,
        budget,
        counted_by,
        reason
    from source
)

select * from renamed
