with source as (
    select * from {{ source('prefline', 'prompt_contamination') }}
),

renamed as (
    select
        prompt_hash,
        benchmark,
        item_id,
        matched_text
    from source
)

select * from renamed
