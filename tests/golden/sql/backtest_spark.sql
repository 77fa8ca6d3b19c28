-- crm-segment-winback backtest part (the summary at 2025-01-01 and the holdout after it), contract v1 (crm-winback 0.1.0)
-- dialect: spark; table: shop.sales.order_lines; as of 2025-06-30; time zone: Europe/Berlin
-- map: customer=customer_id, date=created_at, order_id=order_id, quantity=qty, unit_price=price, refunded_amount=refunded, email=email, email_consent=accepts_email
-- rows identical in every listed column are dropped as duplicates
-- export the result (one row per customer who had bought by the calibration end) as crm_backtest.parquet; then: crm-winback score --summary crm_summary.parquet --gaps crm_gaps.parquet --backtest crm_backtest.parquet --predict
SET TIME ZONE 'Europe/Berlin';
WITH `t2` AS (
  SELECT
    NULLIF(
      IF(
        CONTAINS(TRIM(' \t\n\r\013\014' FROM CAST(`t1`.`customer_id` AS STRING)), '@'),
        LOWER(TRIM(' \t\n\r\013\014' FROM CAST(`t1`.`customer_id` AS STRING))),
        TRIM(' \t\n\r\013\014' FROM CAST(`t1`.`customer_id` AS STRING))
      ),
      ''
    ) AS `customer_id`,
    CAST(`t1`.`created_at` AS DATE) AS `order_date`,
    CAST(`t1`.`price` AS DECIMAL(18, 4)) * CAST(`t1`.`qty` AS DECIMAL(18, 4)) AS `value`,
    CAST(`t1`.`refunded` AS DECIMAL(18, 4)) AS `refunded`,
    CAST(`t1`.`order_id` AS STRING) AS `order_id`,
    `t1`.`email`,
    `t1`.`accepts_email` AS `email_consent`
  FROM (
    SELECT DISTINCT
      *
    FROM `shop`.`sales`.`order_lines` AS `t0`
  ) AS `t1`
), `t5` AS (
  SELECT
    `t3`.`order_id`,
    SUM(`t3`.`value`) AS `gross`,
    MAX(`t3`.`refunded`) AS `refunded`,
    MAX(`t3`.`customer_id`) AS `customer_id`,
    MIN(`t3`.`order_date`) AS `order_date`
  FROM `t2` AS `t3`
  GROUP BY
    1
), `t21` AS (
  SELECT
    `t19`.`customer_id`,
    `t19`.`order_date`,
    `t19`.`n_orders`,
    `t19`.`day_gross`,
    `t19`.`day_net`,
    DATEDIFF(
      DAY,
      LAG(`t19`.`order_date`) OVER (PARTITION BY `t19`.`customer_id` ORDER BY `t19`.`order_date` ASC NULLS LAST),
      `t19`.`order_date`
    ) AS `gap`,
    ROW_NUMBER() OVER (PARTITION BY `t19`.`customer_id` ORDER BY `t19`.`order_date` ASC NULLS LAST) - 1 AS `day_no`
  FROM (
    SELECT
      `t10`.`customer_id`,
      `t10`.`order_date`,
      COUNT(*) AS `n_orders`,
      SUM(`t10`.`gross`) AS `day_gross`,
      SUM(`t10`.`gross` - COALESCE(`t10`.`refunded`, 0)) AS `day_net`
    FROM (
      SELECT
        `t7`.`customer_id`,
        `t7`.`order_date`,
        `t7`.`gross`,
        `t7`.`refunded`
      FROM `t5` AS `t7`
      WHERE
        `t7`.`customer_id` IS NOT NULL
        AND `t7`.`order_date` IS NOT NULL
        AND `t7`.`order_date` > MAKE_DATE(1900, 1, 1)
        AND `t7`.`order_date` <= MAKE_DATE(2025, 6, 30)
        AND NOT (
          COALESCE((
            `t7`.`gross` > 0
          ) AND (
            `t7`.`refunded` >= `t7`.`gross`
          ), FALSE)
        )
        AND (
          (
            `t7`.`gross` IS NULL
          ) OR (
            `t7`.`gross` >= 0
          )
        )
    ) AS `t10`
    GROUP BY
      1,
      2
  ) AS `t19`
), `t22` AS (
  SELECT
    `t20`.`customer_id`,
    `t20`.`order_date`,
    `t20`.`n_orders`,
    `t20`.`day_gross`,
    `t20`.`day_net`,
    DATEDIFF(
      DAY,
      LAG(`t20`.`order_date`) OVER (PARTITION BY `t20`.`customer_id` ORDER BY `t20`.`order_date` ASC NULLS LAST),
      `t20`.`order_date`
    ) AS `gap`,
    ROW_NUMBER() OVER (PARTITION BY `t20`.`customer_id` ORDER BY `t20`.`order_date` ASC NULLS LAST) - 1 AS `day_no`
  FROM (
    SELECT
      `t12`.`customer_id`,
      `t12`.`order_date`,
      COUNT(*) AS `n_orders`,
      SUM(`t12`.`gross`) AS `day_gross`,
      SUM(`t12`.`gross` - COALESCE(`t12`.`refunded`, 0)) AS `day_net`
    FROM (
      SELECT
        `t7`.`customer_id`,
        `t7`.`order_date`,
        `t7`.`gross`,
        `t7`.`refunded`
      FROM `t5` AS `t7`
      WHERE
        `t7`.`customer_id` IS NOT NULL
        AND `t7`.`order_date` IS NOT NULL
        AND `t7`.`order_date` > MAKE_DATE(1900, 1, 1)
        AND `t7`.`order_date` <= MAKE_DATE(2025, 1, 1)
        AND NOT (
          COALESCE((
            `t7`.`gross` > 0
          ) AND (
            `t7`.`refunded` >= `t7`.`gross`
          ), FALSE)
        )
        AND (
          (
            `t7`.`gross` IS NULL
          ) OR (
            `t7`.`gross` >= 0
          )
        )
    ) AS `t12`
    GROUP BY
      1,
      2
  ) AS `t20`
)
SELECT
  *
FROM (
  SELECT
    `t47`.`customer_id`,
    `t47`.`first_order_date`,
    `t47`.`last_order_date`,
    `t47`.`orders`,
    `t47`.`purchase_days`,
    `t47`.`gross_total`,
    `t47`.`net_total`,
    `t47`.`median_days_between`,
    `t47`.`x`,
    `t47`.`t_x`,
    `t47`.`T`,
    `t47`.`repeat_value`,
    `t47`.`litt`,
    COALESCE(`t32`.`n`, 0) AS `holdout_purchase_days`,
    DATEDIFF(DAY, MAKE_DATE(2025, 1, 1), `t32`.`first_back`) AS `first_holdout_day`,
    `t37`.`cycle_days`
  FROM (
    SELECT
      `t45`.`customer_id`,
      `t45`.`first_order_date`,
      `t45`.`last_order_date`,
      `t45`.`orders`,
      `t45`.`purchase_days`,
      `t45`.`gross_total`,
      `t45`.`net_total`,
      `t45`.`median_days_between`,
      `t45`.`x`,
      `t45`.`t_x`,
      `t45`.`T`,
      `t45`.`repeat_value`,
      `t45`.`litt`,
      `t45`.`email`,
      `t45`.`phone`,
      `t45`.`first_name`,
      `t45`.`last_name`,
      `t45`.`email_consent`,
      CAST(NULL AS BOOLEAN) AS `sms_consent`
    FROM (
      SELECT
        `t44`.`customer_id`,
        `t44`.`first_order_date`,
        `t44`.`last_order_date`,
        `t44`.`orders`,
        `t44`.`purchase_days`,
        `t44`.`gross_total`,
        `t44`.`net_total`,
        `t44`.`median_days_between`,
        `t44`.`x`,
        `t44`.`t_x`,
        `t44`.`T`,
        `t44`.`repeat_value`,
        `t44`.`litt`,
        `t44`.`email`,
        `t44`.`phone`,
        `t44`.`first_name`,
        `t44`.`last_name`,
        `t44`.`email_consent`
      FROM (
        SELECT
          `t43`.`customer_id`,
          `t43`.`first_order_date`,
          `t43`.`last_order_date`,
          `t43`.`orders`,
          `t43`.`purchase_days`,
          `t43`.`gross_total`,
          `t43`.`net_total`,
          `t43`.`median_days_between`,
          `t43`.`x`,
          `t43`.`t_x`,
          `t43`.`T`,
          `t43`.`repeat_value`,
          `t43`.`litt`,
          `t43`.`email`,
          `t43`.`phone`,
          `t43`.`first_name`,
          `t43`.`last_name`,
          `t15`.`customer_id` AS `customer_id_right`,
          `t15`.`email_consent`
        FROM (
          SELECT
            `t41`.`customer_id`,
            `t41`.`first_order_date`,
            `t41`.`last_order_date`,
            `t41`.`orders`,
            `t41`.`purchase_days`,
            `t41`.`gross_total`,
            `t41`.`net_total`,
            `t41`.`median_days_between`,
            `t41`.`x`,
            `t41`.`t_x`,
            `t41`.`T`,
            `t41`.`repeat_value`,
            `t41`.`litt`,
            `t41`.`email`,
            CAST(NULL AS STRING) AS `phone`,
            CAST(NULL AS STRING) AS `first_name`,
            CAST(NULL AS STRING) AS `last_name`
          FROM (
            SELECT
              `t40`.`customer_id`,
              `t40`.`first_order_date`,
              `t40`.`last_order_date`,
              `t40`.`orders`,
              `t40`.`purchase_days`,
              `t40`.`gross_total`,
              `t40`.`net_total`,
              `t40`.`median_days_between`,
              `t40`.`x`,
              `t40`.`t_x`,
              `t40`.`T`,
              `t40`.`repeat_value`,
              `t40`.`litt`,
              `t40`.`email`
            FROM (
              SELECT
                `t31`.`customer_id`,
                `t31`.`first_order_date`,
                `t31`.`last_order_date`,
                `t31`.`orders`,
                `t31`.`purchase_days`,
                CAST(`t31`.`gross_total` AS DECIMAL(18, 4)) AS `gross_total`,
                CAST(`t31`.`net_orders` + COALESCE(`t18`.`returned`, 0) AS DECIMAL(18, 4)) AS `net_total`,
                `t39`.`median_days_between`,
                `t31`.`purchase_days` - 1 AS `x`,
                DATEDIFF(DAY, `t31`.`first_order_date`, `t31`.`last_order_date`) AS `t_x`,
                DATEDIFF(DAY, `t31`.`first_order_date`, MAKE_DATE(2025, 1, 1)) AS `T`,
                CAST(`t31`.`repeat_value` AS DECIMAL(18, 4)) AS `repeat_value`,
                COALESCE(`t31`.`litt`, 0.0) AS `litt`,
                `t16`.`customer_id` AS `customer_id_right`,
                `t16`.`email`
              FROM (
                SELECT
                  `t24`.`customer_id`,
                  MIN(`t24`.`order_date`) AS `first_order_date`,
                  MAX(`t24`.`order_date`) AS `last_order_date`,
                  SUM(`t24`.`n_orders`) AS `orders`,
                  COUNT(*) AS `purchase_days`,
                  SUM(`t24`.`day_gross`) AS `gross_total`,
                  SUM(`t24`.`day_net`) AS `net_orders`,
                  SUM(IF(`t24`.`day_no` > 0, `t24`.`day_net`, NULL)) AS `repeat_value`,
                  SUM(LN(CAST(`t24`.`gap` AS DOUBLE))) AS `litt`
                FROM `t22` AS `t24`
                GROUP BY
                  1
              ) AS `t31`
              LEFT OUTER JOIN (
                SELECT
                  `t35`.`customer_id`,
                  AVG(CAST(`t35`.`gap` AS DOUBLE)) AS `median_days_between`
                FROM (
                  SELECT
                    *
                  FROM (
                    SELECT
                      `t27`.`customer_id`,
                      `t27`.`order_date`,
                      `t27`.`n_orders`,
                      `t27`.`day_gross`,
                      `t27`.`day_net`,
                      `t27`.`gap`,
                      `t27`.`day_no`,
                      (
                        ROW_NUMBER() OVER (PARTITION BY `t27`.`customer_id` ORDER BY `t27`.`gap` ASC NULLS LAST) - 1
                      ) + 1 AS `rn`,
                      COUNT(`t27`.`gap`) OVER (
                        PARTITION BY `t27`.`customer_id`
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                      ) AS `n`
                    FROM (
                      SELECT
                        *
                      FROM `t22` AS `t24`
                      WHERE
                        `t24`.`gap` IS NOT NULL
                    ) AS `t27`
                  ) AS `t34`
                  WHERE
                    (
                      `t34`.`rn` = CAST(FLOOR((
                        `t34`.`n` + 1
                      ) / (
                        2
                      )) AS BIGINT)
                    )
                    OR (
                      `t34`.`rn` = (
                        CAST(FLOOR((
                          `t34`.`n`
                        ) / (
                          2
                        )) AS BIGINT) + 1
                      )
                    )
                ) AS `t35`
                GROUP BY
                  1
              ) AS `t39`
                ON `t31`.`customer_id` = `t39`.`customer_id`
              LEFT OUTER JOIN (
                SELECT
                  `t11`.`customer_id`,
                  SUM(`t11`.`gross`) AS `returned`
                FROM (
                  SELECT
                    `t7`.`customer_id`,
                    `t7`.`order_date`,
                    `t7`.`gross`,
                    `t7`.`refunded`
                  FROM `t5` AS `t7`
                  WHERE
                    `t7`.`customer_id` IS NOT NULL
                    AND `t7`.`order_date` IS NOT NULL
                    AND `t7`.`order_date` > MAKE_DATE(1900, 1, 1)
                    AND `t7`.`order_date` <= MAKE_DATE(2025, 1, 1)
                    AND NOT (
                      COALESCE((
                        `t7`.`gross` > 0
                      ) AND (
                        `t7`.`refunded` >= `t7`.`gross`
                      ), FALSE)
                    )
                    AND `t7`.`gross` < 0
                ) AS `t11`
                GROUP BY
                  1
              ) AS `t18`
                ON `t31`.`customer_id` = `t18`.`customer_id`
              LEFT OUTER JOIN (
                SELECT
                  `t9`.`customer_id`,
                  `t9`.`value` AS `email`
                FROM (
                  SELECT
                    `t6`.`customer_id`,
                    `t6`.`order_date`,
                    `t6`.`value`,
                    ROW_NUMBER() OVER (
                      PARTITION BY `t6`.`customer_id`
                      ORDER BY `t6`.`order_date` DESC, `t6`.`value` ASC NULLS LAST
                    ) - 1 AS `rn`
                  FROM (
                    SELECT
                      `t3`.`customer_id`,
                      `t3`.`order_date`,
                      `t3`.`email` AS `value`
                    FROM `t2` AS `t3`
                    WHERE
                      `t3`.`customer_id` IS NOT NULL
                      AND `t3`.`order_date` <= MAKE_DATE(2025, 1, 1)
                      AND `t3`.`email` IS NOT NULL
                  ) AS `t6`
                ) AS `t9`
                WHERE
                  `t9`.`rn` = 0
              ) AS `t16`
                ON `t31`.`customer_id` = `t16`.`customer_id`
            ) AS `t40`
          ) AS `t41`
        ) AS `t43`
        LEFT OUTER JOIN (
          SELECT
            `t8`.`customer_id`,
            `t8`.`value` AS `email_consent`
          FROM (
            SELECT
              `t4`.`customer_id`,
              `t4`.`order_date`,
              `t4`.`value`,
              ROW_NUMBER() OVER (
                PARTITION BY `t4`.`customer_id`
                ORDER BY `t4`.`order_date` DESC, `t4`.`value` ASC NULLS LAST
              ) - 1 AS `rn`
            FROM (
              SELECT
                `t3`.`customer_id`,
                `t3`.`order_date`,
                `t3`.`email_consent` AS `value`
              FROM `t2` AS `t3`
              WHERE
                `t3`.`customer_id` IS NOT NULL
                AND `t3`.`order_date` <= MAKE_DATE(2025, 1, 1)
                AND `t3`.`email_consent` IS NOT NULL
            ) AS `t4`
          ) AS `t8`
          WHERE
            `t8`.`rn` = 0
        ) AS `t15`
          ON `t43`.`customer_id` = `t15`.`customer_id`
      ) AS `t44`
    ) AS `t45`
    ORDER BY
      `t45`.`customer_id` ASC NULLS LAST
  ) AS `t47`
  LEFT OUTER JOIN (
    SELECT
      `t25`.`customer_id`,
      COUNT(*) AS `n`,
      MIN(`t25`.`order_date`) AS `first_back`
    FROM (
      SELECT
        *
      FROM `t21` AS `t23`
      WHERE
        `t23`.`order_date` > MAKE_DATE(2025, 1, 1)
    ) AS `t25`
    GROUP BY
      1
  ) AS `t32`
    ON `t47`.`customer_id` = `t32`.`customer_id`
  CROSS JOIN (
    SELECT
      CAST(MIN(
        IF(
          `t33`.`upto` >= CAST(FLOOR((
            `t33`.`total` + 1
          ) / (
            2
          )) AS BIGINT),
          `t33`.`gap`,
          NULL
        )
      ) + MIN(
        IF(
          `t33`.`upto` >= (
            CAST(FLOOR((
              `t33`.`total`
            ) / (
              2
            )) AS BIGINT) + 1
          ),
          `t33`.`gap`,
          NULL
        )
      ) AS DOUBLE) / 2 AS `cycle_days`
    FROM (
      SELECT
        `t28`.`gap`,
        `t28`.`n`,
        SUM(`t28`.`n`) OVER (
          ORDER BY `t28`.`gap` ASC NULLS LAST
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS `upto`,
        SUM(`t28`.`n`) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS `total`
      FROM (
        SELECT
          `t26`.`gap`,
          COUNT(*) AS `n`
        FROM (
          SELECT
            *
          FROM `t21` AS `t23`
          WHERE
            `t23`.`gap` IS NOT NULL AND `t23`.`order_date` <= MAKE_DATE(2025, 1, 1)
        ) AS `t26`
        GROUP BY
          1
      ) AS `t28`
    ) AS `t33`
  ) AS `t37`
) AS `t48`
ORDER BY
  `t48`.`customer_id` ASC NULLS LAST;
