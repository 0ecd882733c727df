import { LocalInvalidationBus } from './invalidation-bus';
import { RefreshedView } from './refreshed-view';

/** A refresh that stays under way until the test lets it finish. */
function heldRefresh() {
  const releases: (() => void)[] = [];
  const refresh = jest.fn(() => new Promise<void>((resolve) => releases.push(resolve)));
  return { refresh, release: () => releases.shift()!() };
}

describe(RefreshedView.name, () => {
  let sut: RefreshedView | undefined;

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    sut?.stop();
    jest.useRealTimers();
  });

  it('refreshes on every poll and on a message, and stops polling when stopped', async () => {
    const bus = new LocalInvalidationBus();
    const refresh = jest.fn(async () => undefined);
    sut = new RefreshedView({
      bus,
      channel: 'settings',
      pollMs: 1000,
      refresh,
      onError: jest.fn(),
    });
    sut.start();

    await jest.advanceTimersByTimeAsync(2000);
    expect(refresh).toHaveBeenCalledTimes(2);
    bus.publish('settings', '7');
    await jest.advanceTimersByTimeAsync(0);
    expect(refresh).toHaveBeenCalledTimes(3);

    sut.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(refresh).toHaveBeenCalledTimes(3);
  });

  it('hands a message to its own handler when given one', async () => {
    const bus = new LocalInvalidationBus();
    const refresh = jest.fn(async () => undefined);
    const onMessage = jest.fn();
    sut = new RefreshedView({
      bus,
      channel: 'user-changed',
      pollMs: 1000,
      refresh,
      onMessage,
      onError: jest.fn(),
    });
    sut.start();

    bus.publish('user-changed', 'u1');
    await jest.advanceTimersByTimeAsync(0);
    expect(onMessage).toHaveBeenCalledWith('u1');
    expect(refresh).not.toHaveBeenCalled();
  });

  it('runs one refresh at a time: ticks during one are skipped, calls during one run once after it', async () => {
    const { refresh, release } = heldRefresh();
    sut = new RefreshedView({
      bus: new LocalInvalidationBus(),
      channel: 'settings',
      pollMs: 1000,
      refresh,
      onError: jest.fn(),
    });
    sut.start();

    await jest.advanceTimersByTimeAsync(1000);
    const first = sut.refresh();
    const second = sut.refresh();
    await jest.advanceTimersByTimeAsync(3000);
    expect(refresh).toHaveBeenCalledTimes(1);

    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(refresh).toHaveBeenCalledTimes(2);
    release();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('reports a failed refresh and keeps polling', async () => {
    const refresh = jest.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue(undefined);
    const onError = jest.fn();
    sut = new RefreshedView({
      bus: new LocalInvalidationBus(),
      channel: 'signing-keys',
      pollMs: 1000,
      refresh,
      onError,
    });
    sut.start();

    await expect(sut.refresh()).resolves.toBeUndefined();
    expect(onError).toHaveBeenCalledWith(new Error('down'));
    await jest.advanceTimersByTimeAsync(1000);
    expect(refresh).toHaveBeenCalledTimes(2);
  });
});
