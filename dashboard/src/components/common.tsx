import type { ComponentChildren } from 'preact';
import type { TaskStatus } from '@taskproc/contract';
import { describeError } from '../api.js';
import { statusName } from '../status.js';

export function StatusBadge({ status }: { status: TaskStatus }) {
  const name = statusName(status);
  return <span class={`status status-${name}`} data-status={name}>{name}</span>;
}

/** An API error as the API worded it; announced to screen readers. */
export function ErrorNote({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {prefix ? `${prefix}: ` : ''}
      {describeError(error)}
    </p>
  );
}

export function Section({ title, id, children, actions }: { title: string; id: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel" aria-labelledby={`${id}-title`}>
      <div class="panel-head">
        <h2 id={`${id}-title`}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
