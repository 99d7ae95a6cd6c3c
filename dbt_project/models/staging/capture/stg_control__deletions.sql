with source as (
    select * from {{ source('prefline', 'deletion_requests') }}
),

renamed as (
    select
        user_id,
        min(requested_at) as requested_at,
        min(reason) as reason
    from source
    group by user_id
)

select * from renamed
