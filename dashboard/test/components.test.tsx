// @vitest-environment happy-dom
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { TaskEventSchema, TaskStatus } from '@taskproc/contract';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorNote, StatusBadge } from '../src/components/common.js';
import { StreamBadge } from '../src/components/StreamBadge.js';
import { Timeline } from '../src/components/TaskPage.js';
import { LiveHub } from '../src/live-hub.js';

const T0 = 1_764_576_000_000;
let root: HTMLElement;

function mount(node: preact.ComponentChild): HTMLElement {
  root = document.createElement('div');
  document.body.append(root);
  act(() => render(node, root));
  return root;
}

afterEach(() => {
  render(null, root);
  root.remove();
});

describe('StatusBadge', () => {
  it('writes the status out (colour is only extra)', () => {
    const box = mount(<StatusBadge status={TaskStatus.FAILED} />);
    expect(box.textContent).toBe('failed');
    expect(box.querySelector('[data-status="failed"]')).not.toBeNull();
  });
});

describe('ErrorNote', () => {
  it("shows the API's message as an alert", () => {
    const box = mount(<ErrorNote error={new ConnectError('content must not be empty', Code.InvalidArgument)} prefix="Not created" />);
    const alert = box.querySelector('[role="alert"]')!;
    expect(alert.textContent).toBe('Not created: content must not be empty');
  });

  it('says so when the API does not offer a call yet', () => {
    const box = mount(<ErrorNote error={new ConnectError('', Code.Unimplemented)} />);
    expect(box.textContent).toMatch(/does not offer this yet/);
  });

  it('renders nothing without an error', () => {
    expect(mount(<ErrorNote error={null} />).innerHTML).toBe('');
  });
});

describe('Timeline', () => {
  it('lists events oldest first with attempts, errors and how long each step took', () => {
    const events = [
      create(TaskEventSchema, { status: TaskStatus.PENDING, attempt: 0, at: timestampFromMs(T0) }),
      create(TaskEventSchema, { status: TaskStatus.PROCESSING, attempt: 1, at: timestampFromMs(T0 + 250) }),
      create(TaskEventSchema, { status: TaskStatus.PENDING, attempt: 1, at: timestampFromMs(T0 + 3_250), error: 'timed out' }),
    ];
    const rows = [...mount(<Timeline events={events} />).querySelectorAll('tbody tr')].map((row) =>
      [...row.querySelectorAll('td')].map((cell) => cell.textContent),
    );
    expect(rows).toEqual([
      ['pending', '0', '2025-12-01 08:00:00.000 UTC', '—', ''],
      ['processing', '1', '2025-12-01 08:00:00.250 UTC', '250 ms', ''],
      ['pending', '1', '2025-12-01 08:00:03.250 UTC', '3.00 s', 'timed out'],
    ]);
  });

  it('says when there is no history yet', () => {
    expect(mount(<Timeline events={[]} />).textContent).toBe('No events yet.');
  });
});

describe('StreamBadge', () => {
  it('follows the stream state in words, as a status region', () => {
    const hub = new LiveHub();
    const box = mount(<StreamBadge hub={hub} />);
    const region = box.querySelector('[role="status"]')!;
    expect(region.textContent).toMatch(/connecting/);
    act(() => hub.setState({ kind: 'live' }));
    expect(region.textContent).toMatch(/Updates: live/);
    act(() => hub.setState({ kind: 'retrying', reason: 'The API cannot be reached.', inMs: 2_000 }));
    expect(region.textContent).toMatch(/reconnecting in 2 s \(The API cannot be reached\.\)/);
  });
});
