/**
 * The guarded UPDATEs of unfinished tasks by id: the processors' batched
 * claim and completion (every task meets these), the end of a failed
 * attempt, and a client's cancel. Each finds its rows by primary key and
 * states in its WHERE clause the status (and attempt) the change is guarded
 * by.
 *
 * The guards are written inside CASE on purpose. Written as plain
 * conditions (`status = 'pending' or status = 'processing'`, `status =
 * 'processing'`) they imply the predicate of the stale-task sweeper's partial
 * index (task_unfinished_queued_at_idx, `where status in ('pending',
 * 'processing')`), so the planner may read that index as well as, or instead
 * of, the primary key: it then scans every unfinished task for each
 * statement. Its estimate of that index's size comes from the last ANALYZE,
 * which a backlog outruns (a batch create adds thousands of pending tasks in
 * a second): under a backlog of 20,000 a claim of 3 tasks read all 20,000
 * entries, and so did a single cancel. A guard inside CASE proves nothing about the index's
 * predicate, so only the primary key can serve these statements, whatever
 * the statistics say; what each statement changes is the same.
 *
 * Knex-style `?` placeholders, as the store's execute() takes them.
 */

/** pending -> processing (due only), or with the reclaim flag also processing -> processing; or a stale one whatever the flag. Params: ids (uuid[] literal), reclaim, stale period (interval). */
export const CLAIM_MANY_SQL = `update task set status = 'processing', attempt = attempt + 1, updated_at = clock_timestamp()
  where id = any(?::uuid[])
    and case status
          when 'pending' then queued_at <= clock_timestamp()
          when 'processing' then ?::boolean or coalesce(updated_at, created_at) < clock_timestamp() - ?::interval
          else false
        end
  returning *`;

/**
 * processing -> completed while the attempt still holds the task. Params:
 * a JSON array of {id, attempt}, then their ids (uuid[] literal). The id list
 * is the lookup: the planner knows its length, so it reads those rows by
 * primary key (the recordset alone, estimated at 100 rows whatever its
 * size, led it to scan the table when the table was small).
 */
export const COMPLETE_MANY_SQL = `update task set status = 'completed', updated_at = clock_timestamp()
   from json_to_recordset(?::json) as held(id uuid, attempt int)
  where task.id = any(?::uuid[]) and task.id = held.id and task.attempt = held.attempt
    and case task.status when 'processing' then true else false end
  returning task.id, task.attempt, task.created_at, task.updated_at`;

/** pending | processing -> canceled, for a task of a tenant. Params: id, tenant, the cancelable statuses (text[] literal). */
export const CANCEL_SQL = `update task set status = 'canceled', updated_at = clock_timestamp()
  where id = ? and tenant = ? and case when status = any(?::text[]) then true else false end
  returning *`;

/**
 * processing -> pending after a failed attempt, while the attempt holds the
 * task, queued again through the outbox at the not-before time. Params:
 * error, delay (ms), id, attempt.
 */
export const RETRY_LATER_SQL = `with t as (
     update task set status = 'pending', error = ?, failed_attempts = failed_attempts + 1,
            updated_at = clock_timestamp(), queued_at = clock_timestamp() + ? * interval '1 millisecond'
      where id = ? and attempt = ? and case status when 'processing' then true else false end
      returning id, queued_at, created_at, updated_at, attempt),
   o as (insert into outbox (task_id, not_before) select id, queued_at from t)
   select id, created_at, updated_at, attempt from t`;

/** processing -> failed while the attempt holds the task. Params: error, failed attempts to add (0 or 1), id, attempt. */
export const FAIL_SQL = `update task set status = 'failed', error = ?, failed_attempts = failed_attempts + ?, updated_at = clock_timestamp()
  where id = ? and attempt = ? and case status when 'processing' then true else false end
  returning id, created_at, updated_at, attempt`;
