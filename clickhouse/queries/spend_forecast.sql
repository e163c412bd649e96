-- spend_forecast: month to date against last month, and two month-end forecasts.
--
-- Answers: where will this month's spend end up (for one org, or everyone)?
-- Parameters:
--   org    String    one org, or empty for every org
--   as_of  DateTime  the moment to forecast from, e.g. now ('2026-11-20 00:00:00', server time zone: UTC)
-- Example:
--   genai-ledger query --file clickhouse/queries/spend_forecast.sql --param org=acme --param as_of=2026-11-20
-- Reads the hourly rollup (ai_usage_hourly_exact), so it counts the hours that start before
-- as_of: pass a whole hour for an exact cut. Months are UTC calendar months.
--   month_to_date          spend from the 1st to as_of
--   last_month             all of the previous month
--   last_month_same_point  the previous month up to the same elapsed time
--   forecast_linear        month_to_date × month length ÷ elapsed time
--   forecast_run_rate      month_to_date + the last 7 days' spend per second × the time left
SELECT
    as_of,
    month_start,
    mtd AS month_to_date,
    last_month,
    last_month_same_point,
    mtd * month_s / greatest(elapsed_s, 1) AS forecast_linear,
    mtd + last_7_days * remaining_s / 604800 AS forecast_run_rate
FROM
(
    WITH
        {as_of:DateTime} AS as_of_time,
        toDateTime(toStartOfMonth(as_of_time), 'UTC') AS m_start,
        m_start - INTERVAL 1 MONTH AS prev_start
    SELECT
        as_of_time AS as_of,
        m_start AS month_start,
        dateDiff('second', m_start, as_of_time) AS elapsed_s,
        dateDiff('second', m_start, m_start + INTERVAL 1 MONTH) AS month_s,
        dateDiff('second', as_of_time, m_start + INTERVAL 1 MONTH) AS remaining_s,
        sumIf(cost_usd, hour >= m_start) AS mtd,
        sumIf(cost_usd, hour < m_start AND hour >= prev_start) AS last_month,
        sumIf(cost_usd, hour >= prev_start AND hour < prev_start + toIntervalSecond(dateDiff('second', m_start, as_of_time))) AS last_month_same_point,
        sumIf(cost_usd, hour >= as_of_time - INTERVAL 7 DAY) AS last_7_days
    FROM ai_usage_hourly_exact
    WHERE hour >= least(prev_start, as_of_time - INTERVAL 7 DAY)
      AND hour < as_of_time
      AND ({org:String} = '' OR org_id = {org:String})
)
