with source as (
    select * from {{ source('prefline', 'normalization_rejections') }}
),

renamed as (
    select
        record_id,
        event_id,
        partition_date,
        reason,
        detail
    from source
)

select * from renamed
