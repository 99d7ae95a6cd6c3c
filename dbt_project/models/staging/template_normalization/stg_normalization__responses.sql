with source as (
    select * from {{ source('prefline', 'normalized_responses') }}
),

renamed as (
    select
        record_id,
        partition_date,
        position,
        response_id,
        content,
        response_hash,
        model
    from source
)

select * from renamed
