CREATE TABLE IF NOT EXISTS schema_version (
    version UInt32, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version;

CREATE TABLE IF NOT EXISTS requests (
    ts DateTime64(3, 'UTC'),
    deployment LowCardinality(String),
    model LowCardinality(String),
    model_version LowCardinality(String),
    region LowCardinality(String),
    gpu_type LowCardinality(String),
    replica LowCardinality(String),
    status LowCardinality(String),
    queue_ms Nullable(Float32),
    ttft_ms Nullable(Float32),
    tpot_ms Nullable(Float32),
    e2e_ms Nullable(Float32),
    input_tokens UInt32,
    output_tokens UInt32,
    weight UInt32 DEFAULT 1,
    load_id LowCardinality(String)
) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (deployment, ts);

CREATE TABLE IF NOT EXISTS gpu_metrics (
    ts DateTime64(3, 'UTC'),
    node LowCardinality(String),
    gpu UInt8,
    gpu_type LowCardinality(String),
    deployment LowCardinality(String),
    region LowCardinality(String),
    gpu_util Nullable(Float32),
    sm_active Nullable(Float32),
    sm_occupancy Nullable(Float32),
    tensor_active Nullable(Float32),
    dram_active Nullable(Float32),
    fb_used_mib Nullable(Float32),
    fb_total_mib Nullable(Float32),
    power_w Nullable(Float32),
    temp_c Nullable(Float32),
    load_id LowCardinality(String)
) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (deployment, node, gpu, ts);

CREATE TABLE IF NOT EXISTS deployments (
    deployment String,
    model String,
    kind LowCardinality(String),
    params_b Nullable(Float32),
    region LowCardinality(String),
    gpu_type LowCardinality(String),
    gpus_per_replica UInt16,
    replicas UInt16,
    cost_per_gpu_hour Float64,
    owner String,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY deployment;

CREATE TABLE IF NOT EXISTS requests_5m (
    slot DateTime64(0, 'UTC'),
    deployment LowCardinality(String),
    region LowCardinality(String),
    model LowCardinality(String),
    model_version LowCardinality(String),
    gpu_type LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    ok SimpleAggregateFunction(sum, UInt64),
    error SimpleAggregateFunction(sum, UInt64),
    timeout SimpleAggregateFunction(sum, UInt64),
    rejected SimpleAggregateFunction(sum, UInt64),
    unknown SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    ok_output_tokens SimpleAggregateFunction(sum, UInt64),
    e2e_ms_sum SimpleAggregateFunction(sum, Float64),
    ttft_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    tpot_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    e2e_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    queue_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
ORDER BY (deployment, slot, region, model, model_version, gpu_type);

CREATE TABLE IF NOT EXISTS requests_1h (
    slot DateTime64(0, 'UTC'),
    deployment LowCardinality(String),
    region LowCardinality(String),
    model LowCardinality(String),
    model_version LowCardinality(String),
    gpu_type LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    ok SimpleAggregateFunction(sum, UInt64),
    error SimpleAggregateFunction(sum, UInt64),
    timeout SimpleAggregateFunction(sum, UInt64),
    rejected SimpleAggregateFunction(sum, UInt64),
    unknown SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    ok_output_tokens SimpleAggregateFunction(sum, UInt64),
    e2e_ms_sum SimpleAggregateFunction(sum, Float64),
    ttft_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    tpot_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    e2e_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8),
    queue_hist AggregateFunction(sumResample(0, 61, 1), UInt64, UInt8)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
ORDER BY (deployment, slot, region, model, model_version, gpu_type);

CREATE TABLE IF NOT EXISTS gpu_metrics_1h (
    hour DateTime64(0, 'UTC'),
    deployment LowCardinality(String),
    node LowCardinality(String),
    gpu UInt8,
    gpu_type LowCardinality(String),
    region LowCardinality(String),
    samples SimpleAggregateFunction(sum, UInt64),
    gpu_util_sum SimpleAggregateFunction(sum, Float64),
    sm_active_sum SimpleAggregateFunction(sum, Float64),
    sm_occupancy_sum SimpleAggregateFunction(sum, Float64),
    tensor_active_sum SimpleAggregateFunction(sum, Float64),
    dram_active_sum SimpleAggregateFunction(sum, Float64),
    fb_used_mib_sum SimpleAggregateFunction(sum, Float64),
    fb_total_mib_sum SimpleAggregateFunction(sum, Float64),
    power_w_sum SimpleAggregateFunction(sum, Float64),
    temp_c_sum SimpleAggregateFunction(sum, Float64),
    gpu_util_n SimpleAggregateFunction(sum, UInt64),
    sm_active_n SimpleAggregateFunction(sum, UInt64),
    sm_occupancy_n SimpleAggregateFunction(sum, UInt64),
    tensor_active_n SimpleAggregateFunction(sum, UInt64),
    dram_active_n SimpleAggregateFunction(sum, UInt64),
    fb_used_mib_n SimpleAggregateFunction(sum, UInt64),
    fb_total_mib_n SimpleAggregateFunction(sum, UInt64),
    power_w_n SimpleAggregateFunction(sum, UInt64),
    temp_c_n SimpleAggregateFunction(sum, UInt64),
    fb_used_mib_max SimpleAggregateFunction(max, Float64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(hour)
ORDER BY (deployment, hour, node, gpu, gpu_type, region);

CREATE TABLE IF NOT EXISTS requests_goodput_5m (
    slot DateTime64(0, 'UTC'),
    deployment LowCardinality(String),
    region LowCardinality(String),
    ttft_bucket UInt8,
    tpot_bucket UInt8,
    n SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
ORDER BY (deployment, slot, region, ttft_bucket, tpot_bucket);

CREATE TABLE IF NOT EXISTS ingest_journal (
    load_id String,
    table LowCardinality(String),
    state LowCardinality(String),
    step UInt8,
    owner String,
    files Array(String),
    rows UInt64,
    deployments Array(String),
    min_ts DateTime64(3, 'UTC'),
    max_ts DateTime64(3, 'UTC'),
    at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(step) ORDER BY (load_id, table);

CREATE TABLE IF NOT EXISTS review_notes (
    incident_key String, note String, owner String, written_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (incident_key, written_at);

CREATE TABLE IF NOT EXISTS budget_corrections (
    slos Array(String), start DateTime64(3, 'UTC'), duration_s UInt32, reason String, added_by String, added_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (start, added_at);

CREATE TABLE IF NOT EXISTS budget_correction_withdrawals (
    start DateTime64(3, 'UTC'), added_at DateTime64(3, 'UTC'), reason String, withdrawn_by String, withdrawn_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (start, added_at);

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_5m_mv TO requests_5m AS
SELECT
    toStartOfInterval(ts, INTERVAL 5 MINUTE) AS slot,
    deployment, region, model, model_version, gpu_type,
    sum(src.weight) AS requests,
    sumIf(src.weight, status = 'ok') AS ok,
    sumIf(src.weight, status = 'error') AS error,
    sumIf(src.weight, status = 'timeout') AS timeout,
    sumIf(src.weight, status = 'rejected') AS rejected,
    sumIf(src.weight, status = 'unknown') AS unknown,
    sum(toUInt64(src.input_tokens) * src.weight) AS input_tokens,
    sum(toUInt64(src.output_tokens) * src.weight) AS output_tokens,
    sumIf(toUInt64(src.output_tokens) * src.weight, status = 'ok') AS ok_output_tokens,
    sumIf(toFloat64(ifNull(e2e_ms, 0)) * src.weight, status = 'ok') AS e2e_ms_sum,
    sumResampleState(0, 61, 1)(toUInt64(src.weight), toUInt8(if(status = 'ok' AND isNotNull(ttft_ms), transform(roundDown(-toFloat64(assumeNotNull(ttft_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255))) AS ttft_hist,
    sumResampleState(0, 61, 1)(toUInt64(src.weight), toUInt8(if(status = 'ok' AND isNotNull(tpot_ms), transform(roundDown(-toFloat64(assumeNotNull(tpot_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255))) AS tpot_hist,
    sumResampleState(0, 61, 1)(toUInt64(src.weight), toUInt8(if(status = 'ok' AND isNotNull(e2e_ms), transform(roundDown(-toFloat64(assumeNotNull(e2e_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255))) AS e2e_hist,
    sumResampleState(0, 61, 1)(toUInt64(src.weight), toUInt8(if(status = 'ok' AND isNotNull(queue_ms), transform(roundDown(-toFloat64(assumeNotNull(queue_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255))) AS queue_hist
FROM requests AS src

GROUP BY deployment, slot, region, model, model_version, gpu_type;

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_1h_mv TO requests_1h AS
SELECT
    toStartOfHour(src.slot) AS slot,
    deployment, region, model, model_version, gpu_type,
    sum(src.requests) AS requests,
    sum(src.ok) AS ok,
    sum(src.error) AS error,
    sum(src.timeout) AS timeout,
    sum(src.rejected) AS rejected,
    sum(src.unknown) AS unknown,
    sum(src.input_tokens) AS input_tokens,
    sum(src.output_tokens) AS output_tokens,
    sum(src.ok_output_tokens) AS ok_output_tokens,
    sum(src.e2e_ms_sum) AS e2e_ms_sum,
    sumResampleMergeState(0, 61, 1)(src.ttft_hist) AS ttft_hist,
    sumResampleMergeState(0, 61, 1)(src.tpot_hist) AS tpot_hist,
    sumResampleMergeState(0, 61, 1)(src.e2e_hist) AS e2e_hist,
    sumResampleMergeState(0, 61, 1)(src.queue_hist) AS queue_hist
FROM requests_5m AS src

GROUP BY deployment, slot, region, model, model_version, gpu_type;

CREATE MATERIALIZED VIEW IF NOT EXISTS gpu_metrics_1h_mv TO gpu_metrics_1h AS
SELECT
    toStartOfHour(ts) AS hour,
    deployment, node, gpu, gpu_type, region,
    count() AS samples,
    sumIf(toFloat64(assumeNotNull(gpu_util)), isNotNull(gpu_util) AND gpu_util < 140737488355328.0) AS gpu_util_sum,
    sumIf(toFloat64(assumeNotNull(sm_active)), isNotNull(sm_active) AND sm_active < 140737488355328.0) AS sm_active_sum,
    sumIf(toFloat64(assumeNotNull(sm_occupancy)), isNotNull(sm_occupancy) AND sm_occupancy < 140737488355328.0) AS sm_occupancy_sum,
    sumIf(toFloat64(assumeNotNull(tensor_active)), isNotNull(tensor_active) AND tensor_active < 140737488355328.0) AS tensor_active_sum,
    sumIf(toFloat64(assumeNotNull(dram_active)), isNotNull(dram_active) AND dram_active < 140737488355328.0) AS dram_active_sum,
    sumIf(toFloat64(assumeNotNull(fb_used_mib)), isNotNull(fb_used_mib) AND fb_used_mib < 140737488355328.0) AS fb_used_mib_sum,
    sumIf(toFloat64(assumeNotNull(fb_total_mib)), isNotNull(fb_total_mib) AND fb_total_mib < 140737488355328.0) AS fb_total_mib_sum,
    sumIf(toFloat64(assumeNotNull(power_w)), isNotNull(power_w) AND power_w < 140737488355328.0) AS power_w_sum,
    sumIf(toFloat64(assumeNotNull(temp_c)), isNotNull(temp_c) AND temp_c < 140737488355328.0) AS temp_c_sum,
    countIf(isNotNull(gpu_util) AND gpu_util < 140737488355328.0) AS gpu_util_n,
    countIf(isNotNull(sm_active) AND sm_active < 140737488355328.0) AS sm_active_n,
    countIf(isNotNull(sm_occupancy) AND sm_occupancy < 140737488355328.0) AS sm_occupancy_n,
    countIf(isNotNull(tensor_active) AND tensor_active < 140737488355328.0) AS tensor_active_n,
    countIf(isNotNull(dram_active) AND dram_active < 140737488355328.0) AS dram_active_n,
    countIf(isNotNull(fb_used_mib) AND fb_used_mib < 140737488355328.0) AS fb_used_mib_n,
    countIf(isNotNull(fb_total_mib) AND fb_total_mib < 140737488355328.0) AS fb_total_mib_n,
    countIf(isNotNull(power_w) AND power_w < 140737488355328.0) AS power_w_n,
    countIf(isNotNull(temp_c) AND temp_c < 140737488355328.0) AS temp_c_n,
    maxIf(toFloat64(assumeNotNull(fb_used_mib)), isNotNull(fb_used_mib) AND fb_used_mib < 140737488355328.0) AS fb_used_mib_max
FROM gpu_metrics

GROUP BY deployment, hour, node, gpu, gpu_type, region;

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_goodput_5m_mv TO requests_goodput_5m AS
SELECT
    toStartOfInterval(ts, INTERVAL 5 MINUTE) AS slot, deployment, region,
    toUInt8(if(status = 'ok' AND isNotNull(ttft_ms), transform(roundDown(-toFloat64(assumeNotNull(ttft_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255)) AS ttft_bucket, toUInt8(if(status = 'ok' AND isNotNull(tpot_ms), transform(roundDown(-toFloat64(assumeNotNull(tpot_ms)), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0]), [-1e+300, -800000.0, -600000.0, -500000.0, -400000.0, -300000.0, -250000.0, -200000.0, -150000.0, -120000.0, -100000.0, -80000.0, -60000.0, -50000.0, -40000.0, -30000.0, -25000.0, -20000.0, -15000.0, -12000.0, -10000.0, -8000.0, -6000.0, -5000.0, -4000.0, -3000.0, -2500.0, -2000.0, -1500.0, -1200.0, -1000.0, -800.0, -600.0, -500.0, -400.0, -300.0, -250.0, -200.0, -150.0, -120.0, -100.0, -80.0, -60.0, -50.0, -40.0, -30.0, -25.0, -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.2, -1.0], [60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 255), 255)) AS tpot_bucket,
    sum(src.weight) AS n
FROM requests AS src
WHERE (status = 'ok' AND isNotNull(ttft_ms) AND isNotNull(tpot_ms))
GROUP BY deployment, slot, region, ttft_bucket, tpot_bucket;

CREATE TABLE IF NOT EXISTS otel_sources (
    view String, source_table String, definition String, cutoff_ns Int64,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(created_at) ORDER BY view;
