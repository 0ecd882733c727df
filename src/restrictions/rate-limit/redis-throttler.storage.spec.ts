import { RedisThrottlerStorage } from './redis-throttler.storage';

describe(RedisThrottlerStorage.name, () => {
  /** A storage with its own client, which never connects (lazyConnect, no command sent). */
  function storage() {
    const sut = new RedisThrottlerStorage({ lazyConnect: true, port: 9 });
    const disconnect = jest.spyOn(sut.redis, 'disconnect').mockImplementation(() => undefined);
    return { sut, disconnect };
  }

  it('keeps its connection through module destruction, for the requests still draining', () => {
    const { sut, disconnect } = storage();
    sut.onModuleDestroy();
    expect(disconnect).not.toHaveBeenCalled();
  });

  it('closes its connection once the HTTP server has stopped', () => {
    const { sut, disconnect } = storage();
    sut.onApplicationShutdown();
    expect(disconnect).toHaveBeenCalledTimes(1);
  });
});
