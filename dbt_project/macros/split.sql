{#- The train/test split, drawn per near-duplicate cluster: every row of a cluster lands in the
    same split, so near-duplicates never straddle train and test. A stable md5 bucket of the
    salted cluster id; `test_fraction` of the buckets are test. -#}
{% macro split_of(cluster_id) -%}
    case
        when {{ hash_bucket("'" ~ var('split_salt') ~ "|' || " ~ cluster_id, 10000) }}
             < {{ (var('test_fraction') * 10000) | int }}
        then 'test' else 'train'
    end
{%- endmacro %}
