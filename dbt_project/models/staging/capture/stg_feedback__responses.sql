with source as (
    select * from {{ source('prefline', 'raw_feedback_responses') }}
),

renamed as (
    select
        record_id,
        partition_date,
        position,
        response_id,
        content,
        model,
        length(content) as content_chars
    from source
)

select * from renamed
