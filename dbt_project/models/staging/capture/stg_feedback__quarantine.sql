with source as (
    select * from {{ source('prefline', 'raw_quarantine') }}
),

renamed as (
    select
        record_id,
        event_id,
        partition_date,
        source_file,
        source_line,
        reason,
        detail
    from source
)

select * from renamed
