import type { INestApplicationContext } from '@nestjs/common';
import Fastify, { FastifyInstance } from 'fastify';
import type { ClientIpService } from '../restrictions/client-ip.service';
import { resolveClientIp } from './client-ip';

describe(resolveClientIp.name, () => {
  let resolve: jest.Mock;
  let sut: FastifyInstance;

  beforeEach(async () => {
    resolve = jest.fn(
      (_socket: string, headers: Record<string, string | string[] | undefined>) =>
        `client-of-${String(headers['x-forwarded-for'])}`,
    );
    sut = Fastify();
    const bind = resolveClientIp(sut);
    bind({
      get: () => ({ resolve }) as unknown as ClientIpService,
    } as unknown as INestApplicationContext);
    sut.get('/twice', async (request) => [request.clientIp, request.clientIp]);
    sut.get('/never', async () => 'ok');
    await sut.ready();
  });
  afterEach(() => sut.close());

  it('resolves the address through ClientIpService once per request, however often it is read', async () => {
    const first = await sut.inject({ url: '/twice', headers: { 'x-forwarded-for': '192.0.2.1' } });
    expect(first.json()).toEqual(['client-of-192.0.2.1', 'client-of-192.0.2.1']);
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(resolve).toHaveBeenCalledWith(
      '127.0.0.1',
      expect.objectContaining({ 'x-forwarded-for': '192.0.2.1' }),
    );

    // The next request is resolved afresh: nothing is kept between requests.
    const second = await sut.inject({ url: '/twice', headers: { 'x-forwarded-for': '192.0.2.2' } });
    expect(second.json()).toEqual(['client-of-192.0.2.2', 'client-of-192.0.2.2']);
    expect(resolve).toHaveBeenCalledTimes(2);
  });

  it('does not resolve for a route that never asks', async () => {
    expect((await sut.inject({ url: '/never' })).statusCode).toBe(200);
    expect(resolve).not.toHaveBeenCalled();
  });
});
