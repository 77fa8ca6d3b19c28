-- crm-segment-winback per-customer summary, contract v1 (crm-winback 0.1.0)
-- dialect: postgres; table: shop.sales.order_lines; as of 2025-06-30; time zone: Europe/Berlin
-- map: customer=customer_id, date=created_at, order_id=order_id, quantity=qty, unit_price=price, refunded_amount=refunded, email=email, email_consent=accepts_email
-- rows identical in every listed column are dropped as duplicates
-- export the result (one row per customer) as crm_summary.parquet and the --part gaps result as crm_gaps.parquet; then: crm-winback score --summary crm_summary.parquet --gaps crm_gaps.parquet
SET TIME ZONE 'Europe/Berlin';
WITH "t2" AS (
  SELECT
    NULLIF(
      CASE
        WHEN POSITION('@' IN TRIM(' 	
' FROM CAST("t1"."customer_id" AS VARCHAR))) > 0
        THEN LOWER(TRIM(' 	
' FROM CAST("t1"."customer_id" AS VARCHAR)))
        ELSE TRIM(' 	
' FROM CAST("t1"."customer_id" AS VARCHAR))
      END,
      ''
    ) AS "customer_id",
    DATE("t1"."created_at") AS "order_date",
    CAST("t1"."price" AS DECIMAL(18, 4)) * CAST("t1"."qty" AS DECIMAL(18, 4)) AS "value",
    CAST("t1"."refunded" AS DECIMAL(18, 4)) AS "refunded",
    CAST("t1"."order_id" AS VARCHAR) AS "order_id",
    "t1"."email",
    "t1"."accepts_email" AS "email_consent"
  FROM (
    SELECT DISTINCT
      *
    FROM "shop"."sales"."order_lines" AS "t0"
  ) AS "t1"
), "t6" AS (
  SELECT
    "t3"."order_id",
    SUM("t3"."value") AS "gross",
    MAX("t3"."refunded") AS "refunded",
    MAX("t3"."customer_id") AS "customer_id",
    MIN("t3"."order_date") AS "order_date"
  FROM "t2" AS "t3"
  GROUP BY
    1
), "t19" AS (
  SELECT
    "t18"."customer_id",
    "t18"."order_date",
    "t18"."n_orders",
    "t18"."day_gross",
    "t18"."day_net",
    CAST(EXTRACT(epoch FROM CAST("t18"."order_date" AS TIMESTAMP) - CAST(LAG("t18"."order_date") OVER (
      PARTITION BY "t18"."customer_id"
      ORDER BY "t18"."order_date" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS TIMESTAMP)) / 86400 AS BIGINT) AS "gap",
    ROW_NUMBER() OVER (
      PARTITION BY "t18"."customer_id"
      ORDER BY "t18"."order_date" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) - 1 AS "day_no"
  FROM (
    SELECT
      "t11"."customer_id",
      "t11"."order_date",
      COUNT(*) AS "n_orders",
      SUM("t11"."gross") AS "day_gross",
      SUM("t11"."gross" - COALESCE("t11"."refunded", 0)) AS "day_net"
    FROM (
      SELECT
        "t7"."customer_id",
        "t7"."order_date",
        "t7"."gross",
        "t7"."refunded"
      FROM "t6" AS "t7"
      WHERE
        "t7"."customer_id" IS NOT NULL
        AND "t7"."order_date" IS NOT NULL
        AND "t7"."order_date" > MAKE_DATE(1900, 1, 1)
        AND "t7"."order_date" <= MAKE_DATE(2025, 6, 30)
        AND NOT (
          COALESCE((
            "t7"."gross" > 0
          ) AND (
            "t7"."refunded" >= "t7"."gross"
          ), FALSE)
        )
        AND (
          (
            "t7"."gross" IS NULL
          ) OR (
            "t7"."gross" >= 0
          )
        )
    ) AS "t11"
    GROUP BY
      1,
      2
  ) AS "t18"
)
SELECT
  "t33"."customer_id",
  "t33"."first_order_date",
  "t33"."last_order_date",
  "t33"."orders",
  "t33"."purchase_days",
  "t33"."gross_total",
  "t33"."net_total",
  "t33"."median_days_between",
  "t33"."x",
  "t33"."t_x",
  "t33"."T",
  "t33"."repeat_value",
  "t33"."litt",
  "t33"."email",
  "t33"."phone",
  "t33"."first_name",
  "t33"."last_name",
  "t33"."email_consent",
  CAST(NULL AS BOOLEAN) AS "sms_consent"
FROM (
  SELECT
    "t32"."customer_id",
    "t32"."first_order_date",
    "t32"."last_order_date",
    "t32"."orders",
    "t32"."purchase_days",
    "t32"."gross_total",
    "t32"."net_total",
    "t32"."median_days_between",
    "t32"."x",
    "t32"."t_x",
    "t32"."T",
    "t32"."repeat_value",
    "t32"."litt",
    "t32"."email",
    "t32"."phone",
    "t32"."first_name",
    "t32"."last_name",
    "t32"."email_consent"
  FROM (
    SELECT
      "t31"."customer_id",
      "t31"."first_order_date",
      "t31"."last_order_date",
      "t31"."orders",
      "t31"."purchase_days",
      "t31"."gross_total",
      "t31"."net_total",
      "t31"."median_days_between",
      "t31"."x",
      "t31"."t_x",
      "t31"."T",
      "t31"."repeat_value",
      "t31"."litt",
      "t31"."email",
      "t31"."phone",
      "t31"."first_name",
      "t31"."last_name",
      "t14"."customer_id" AS "customer_id_right",
      "t14"."email_consent"
    FROM (
      SELECT
        "t29"."customer_id",
        "t29"."first_order_date",
        "t29"."last_order_date",
        "t29"."orders",
        "t29"."purchase_days",
        "t29"."gross_total",
        "t29"."net_total",
        "t29"."median_days_between",
        "t29"."x",
        "t29"."t_x",
        "t29"."T",
        "t29"."repeat_value",
        "t29"."litt",
        "t29"."email",
        CAST(NULL AS VARCHAR) AS "phone",
        CAST(NULL AS VARCHAR) AS "first_name",
        CAST(NULL AS VARCHAR) AS "last_name"
      FROM (
        SELECT
          "t28"."customer_id",
          "t28"."first_order_date",
          "t28"."last_order_date",
          "t28"."orders",
          "t28"."purchase_days",
          "t28"."gross_total",
          "t28"."net_total",
          "t28"."median_days_between",
          "t28"."x",
          "t28"."t_x",
          "t28"."T",
          "t28"."repeat_value",
          "t28"."litt",
          "t28"."email"
        FROM (
          SELECT
            "t23"."customer_id",
            "t23"."first_order_date",
            "t23"."last_order_date",
            "t23"."orders",
            "t23"."purchase_days",
            CAST("t23"."gross_total" AS DECIMAL(18, 4)) AS "gross_total",
            CAST("t23"."net_orders" + COALESCE("t17"."returned", 0) AS DECIMAL(18, 4)) AS "net_total",
            "t27"."median_days_between",
            "t23"."purchase_days" - 1 AS "x",
            CAST(EXTRACT(epoch FROM CAST("t23"."last_order_date" AS TIMESTAMP) - CAST("t23"."first_order_date" AS TIMESTAMP)) / 86400 AS BIGINT) AS "t_x",
            CAST(EXTRACT(epoch FROM CAST(MAKE_DATE(2025, 6, 30) AS TIMESTAMP) - CAST("t23"."first_order_date" AS TIMESTAMP)) / 86400 AS BIGINT) AS "T",
            CAST("t23"."repeat_value" AS DECIMAL(18, 4)) AS "repeat_value",
            COALESCE("t23"."litt", 0.0) AS "litt",
            "t15"."customer_id" AS "customer_id_right",
            "t15"."email"
          FROM (
            SELECT
              "t20"."customer_id",
              MIN("t20"."order_date") AS "first_order_date",
              MAX("t20"."order_date") AS "last_order_date",
              SUM("t20"."n_orders") AS "orders",
              COUNT(*) AS "purchase_days",
              SUM("t20"."day_gross") AS "gross_total",
              SUM("t20"."day_net") AS "net_orders",
              SUM("t20"."day_net") FILTER(WHERE
                "t20"."day_no" > 0) AS "repeat_value",
              SUM(LN(CAST("t20"."gap" AS DOUBLE PRECISION))) AS "litt"
            FROM "t19" AS "t20"
            GROUP BY
              1
          ) AS "t23"
          LEFT OUTER JOIN (
            SELECT
              "t25"."customer_id",
              AVG(CAST("t25"."gap" AS DOUBLE PRECISION)) AS "median_days_between"
            FROM (
              SELECT
                *
              FROM (
                SELECT
                  "t21"."customer_id",
                  "t21"."order_date",
                  "t21"."n_orders",
                  "t21"."day_gross",
                  "t21"."day_net",
                  "t21"."gap",
                  "t21"."day_no",
                  (
                    ROW_NUMBER() OVER (
                      PARTITION BY "t21"."customer_id"
                      ORDER BY "t21"."gap" ASC
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                    ) - 1
                  ) + 1 AS "rn",
                  COUNT("t21"."gap") OVER (
                    PARTITION BY "t21"."customer_id"
                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                  ) AS "n"
                FROM (
                  SELECT
                    *
                  FROM "t19" AS "t20"
                  WHERE
                    "t20"."gap" IS NOT NULL
                ) AS "t21"
              ) AS "t24"
              WHERE
                (
                  "t24"."rn" = CAST(FLOOR(CAST((
                    "t24"."n" + 1
                  ) AS DOUBLE PRECISION) / (
                    2
                  )) AS BIGINT)
                )
                OR (
                  "t24"."rn" = (
                    CAST(FLOOR(CAST((
                      "t24"."n"
                    ) AS DOUBLE PRECISION) / (
                      2
                    )) AS BIGINT) + 1
                  )
                )
            ) AS "t25"
            GROUP BY
              1
          ) AS "t27"
            ON "t23"."customer_id" = "t27"."customer_id"
          LEFT OUTER JOIN (
            SELECT
              "t10"."customer_id",
              SUM("t10"."gross") AS "returned"
            FROM (
              SELECT
                "t7"."customer_id",
                "t7"."order_date",
                "t7"."gross",
                "t7"."refunded"
              FROM "t6" AS "t7"
              WHERE
                "t7"."customer_id" IS NOT NULL
                AND "t7"."order_date" IS NOT NULL
                AND "t7"."order_date" > MAKE_DATE(1900, 1, 1)
                AND "t7"."order_date" <= MAKE_DATE(2025, 6, 30)
                AND NOT (
                  COALESCE((
                    "t7"."gross" > 0
                  ) AND (
                    "t7"."refunded" >= "t7"."gross"
                  ), FALSE)
                )
                AND "t7"."gross" < 0
            ) AS "t10"
            GROUP BY
              1
          ) AS "t17"
            ON "t23"."customer_id" = "t17"."customer_id"
          LEFT OUTER JOIN (
            SELECT
              "t9"."customer_id",
              "t9"."value" AS "email"
            FROM (
              SELECT
                "t5"."customer_id",
                "t5"."order_date",
                "t5"."value",
                ROW_NUMBER() OVER (
                  PARTITION BY "t5"."customer_id"
                  ORDER BY "t5"."order_date" DESC NULLS LAST, "t5"."value" ASC
                  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                ) - 1 AS "rn"
              FROM (
                SELECT
                  "t3"."customer_id",
                  "t3"."order_date",
                  "t3"."email" AS "value"
                FROM "t2" AS "t3"
                WHERE
                  "t3"."customer_id" IS NOT NULL
                  AND "t3"."order_date" <= MAKE_DATE(2025, 6, 30)
                  AND "t3"."email" IS NOT NULL
              ) AS "t5"
            ) AS "t9"
            WHERE
              "t9"."rn" = 0
          ) AS "t15"
            ON "t23"."customer_id" = "t15"."customer_id"
        ) AS "t28"
      ) AS "t29"
    ) AS "t31"
    LEFT OUTER JOIN (
      SELECT
        "t8"."customer_id",
        "t8"."value" AS "email_consent"
      FROM (
        SELECT
          "t4"."customer_id",
          "t4"."order_date",
          "t4"."value",
          ROW_NUMBER() OVER (
            PARTITION BY "t4"."customer_id"
            ORDER BY "t4"."order_date" DESC NULLS LAST, "t4"."value" ASC
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
          ) - 1 AS "rn"
        FROM (
          SELECT
            "t3"."customer_id",
            "t3"."order_date",
            "t3"."email_consent" AS "value"
          FROM "t2" AS "t3"
          WHERE
            "t3"."customer_id" IS NOT NULL
            AND "t3"."order_date" <= MAKE_DATE(2025, 6, 30)
            AND "t3"."email_consent" IS NOT NULL
        ) AS "t4"
      ) AS "t8"
      WHERE
        "t8"."rn" = 0
    ) AS "t14"
      ON "t31"."customer_id" = "t14"."customer_id"
  ) AS "t32"
) AS "t33"
ORDER BY
  "t33"."customer_id" ASC;
