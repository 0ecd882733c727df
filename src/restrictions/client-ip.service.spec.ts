import { isValidIpOrCidr } from '../common/ip';
import { ClientIpService } from './client-ip.service';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

/** The two methods ClientIpService uses, with a way to announce a change as SettingsService does. */
class StubSettings {
  private current: Settings;
  private readonly listeners: ((settings: Settings) => void)[] = [];

  constructor(ip: Partial<Settings['ip']> = {}) {
    this.current = withIp(ip);
  }

  get(): Settings {
    return this.current;
  }

  onChange(listener: (settings: Settings) => void): void {
    this.listeners.push(listener);
  }

  change(ip: Partial<Settings['ip']>): void {
    this.current = withIp(ip);
    for (const listener of this.listeners) listener(this.current);
  }
}

function withIp(ip: Partial<Settings['ip']>): Settings {
  const settings = structuredClone(DEFAULT_SETTINGS);
  settings.ip = { ...settings.ip, ...ip };
  return settings;
}

function serviceWith(ip: Partial<Settings['ip']> = {}): {
  sut: ClientIpService;
  settings: StubSettings;
} {
  const settings = new StubSettings(ip);
  return { sut: new ClientIpService(settings as unknown as SettingsService), settings };
}

const xff = (value: string | string[]) => ({ 'x-forwarded-for': value });
/** Two more proxy ranges besides loopback: a private network and a documentation IPv6 range. */
const PROXIES = ['127.0.0.1/32', '::1/128', '10.0.0.0/8', '2001:db8:ffff::/48'];

describe('ClientIpService', () => {
  it('starts from the defaults: loopback proxies trusted, X-Forwarded-For read', () => {
    expect(DEFAULT_SETTINGS.ip.trustedProxies).toEqual(['127.0.0.1/32', '::1/128']);
    expect(DEFAULT_SETTINGS.ip.clientIpHeader).toBe('X-Forwarded-For');
    const { sut } = serviceWith();
    expect(sut.resolve('127.0.0.1', xff('198.51.100.7'))).toBe('198.51.100.7');
    expect(sut.resolve('::1', xff('198.51.100.7'))).toBe('198.51.100.7');
  });

  it('ignores the header from an untrusted peer and reports the socket address', () => {
    const { sut } = serviceWith();
    expect(sut.resolve('203.0.113.9', xff('198.51.100.7'))).toBe('203.0.113.9');
    expect(sut.resolve('203.0.113.9', xff('127.0.0.1'))).toBe('203.0.113.9');
    expect(sut.resolve('2001:db8::9', xff('198.51.100.7'))).toBe('2001:db8::9');
    expect(sut.resolve('203.0.113.9', {})).toBe('203.0.113.9');
  });

  it('reports a trusted peer itself when there is no header', () => {
    const { sut } = serviceWith();
    expect(sut.resolve('127.0.0.1', {})).toBe('127.0.0.1');
    expect(sut.resolve('127.0.0.1', { 'x-forwarded-for': undefined })).toBe('127.0.0.1');
  });

  it('walks a trusted chain from the right to the first untrusted entry', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    // client, proxy1 (trusted), proxy2 (trusted); the peer is the last proxy.
    expect(sut.resolve('127.0.0.1', xff('198.51.100.7, 10.0.0.2, 10.0.0.3'))).toBe('198.51.100.7');
    expect(sut.resolve('10.0.0.4', xff('198.51.100.7, 10.1.2.3'))).toBe('198.51.100.7');
    expect(sut.resolve('::1', xff('2001:db8::7, 2001:db8:ffff::1'))).toBe('2001:db8::7');
  });

  it('stops at the right-most untrusted entry and never believes the left-most one for its own sake', () => {
    const { sut } = serviceWith();
    // The client wrote 1.2.3.4 itself; the trusted proxy appended 5.6.7.8, which it saw.
    expect(sut.resolve('127.0.0.1', xff('1.2.3.4, 5.6.7.8'))).toBe('5.6.7.8');
    const chained = serviceWith({ trustedProxies: PROXIES }).sut;
    expect(chained.resolve('127.0.0.1', xff('1.2.3.4, 5.6.7.8, 10.0.0.2'))).toBe('5.6.7.8');
  });

  it('reports the left-most entry when every entry is a trusted proxy', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    expect(sut.resolve('127.0.0.1', xff('10.0.0.1, 10.0.0.2'))).toBe('10.0.0.1');
  });

  it('treats IPv4-mapped IPv6 peers as the IPv4 address they carry', () => {
    const { sut } = serviceWith();
    expect(sut.resolve('::ffff:127.0.0.1', xff('198.51.100.7'))).toBe('198.51.100.7');
    expect(sut.resolve('::ffff:10.0.0.1', xff('198.51.100.7'))).toBe('10.0.0.1');
    expect(sut.resolve('::ffff:10.0.0.1', {})).toBe('10.0.0.1');
    // Mapped addresses in the header are reported as IPv4 too.
    expect(sut.resolve('127.0.0.1', xff('::ffff:198.51.100.7'))).toBe('198.51.100.7');
  });

  it('falls back to the socket address on a malformed entry, and never throws', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    const malformed = [
      'garbage',
      '999.1.1.1',
      '',
      ' ',
      ',',
      '198.51.100.7,,10.0.0.2',
      '198.51.100.7, garbage',
      '198.51.100.7, 10.0.0.2, 999.1.1.1',
      '[2001:db8::1',
      '[]:80',
      '::::::::::',
      '1.2.3.4/24',
      'unknown',
      '\u0000',
    ];
    for (const header of malformed) {
      expect(() => sut.resolve('127.0.0.1', xff(header))).not.toThrow();
      expect([header, sut.resolve('127.0.0.1', xff(header))]).toEqual([header, '127.0.0.1']);
    }
  });

  it('does not read past the client entry: garbage a client wrote on the left changes nothing', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    expect(sut.resolve('127.0.0.1', xff('garbage, 198.51.100.7'))).toBe('198.51.100.7');
    expect(sut.resolve('127.0.0.1', xff('999.1.1.1, 198.51.100.7, 10.0.0.2'))).toBe('198.51.100.7');
  });

  it('returns an unparsable socket address unchanged', () => {
    const { sut } = serviceWith();
    expect(sut.resolve('', xff('198.51.100.7'))).toBe('');
    expect(sut.resolve('not-an-ip', xff('198.51.100.7'))).toBe('not-an-ip');
  });

  it('understands entries with ports', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    expect(sut.resolve('127.0.0.1', xff('203.0.113.7:5000'))).toBe('203.0.113.7');
    expect(sut.resolve('127.0.0.1', xff('[2001:db8::1]:443'))).toBe('2001:db8::1');
    expect(sut.resolve('127.0.0.1', xff('[2001:db8::1]'))).toBe('2001:db8::1');
    // A bare IPv6 address is not mistaken for host:port.
    expect(sut.resolve('127.0.0.1', xff('2001:db8::1'))).toBe('2001:db8::1');
    // Trusted proxies with ports are still recognised as trusted.
    expect(sut.resolve('127.0.0.1', xff('203.0.113.7:5000, 10.0.0.2:8080'))).toBe('203.0.113.7');
  });

  it('joins several instances of the header in order', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    expect(sut.resolve('127.0.0.1', xff(['198.51.100.7', '10.0.0.2']))).toBe('198.51.100.7');
    expect(sut.resolve('127.0.0.1', xff(['1.2.3.4', '5.6.7.8']))).toBe('5.6.7.8');
    expect(sut.resolve('127.0.0.1', xff(['1.2.3.4, 5.6.7.8', '10.0.0.2, 10.0.0.3']))).toBe(
      '5.6.7.8',
    );
  });

  it('walks at most the 32 right-most entries: padding on the left moves nothing', () => {
    const { sut } = serviceWith({ trustedProxies: PROXIES });
    const proxies = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`);
    // A client behind two proxies pads the header with addresses of its choosing, trusted
    // ones included; the proxies append what they saw on the right.
    const padding = [...proxies(40), '127.0.0.1', '::1'];
    const padded = [...padding, '203.0.113.9', '10.0.0.250', '10.0.0.251'];
    expect(sut.resolve('127.0.0.1', xff(padded.join(', ')))).toBe('203.0.113.9');
    expect(sut.resolve('127.0.0.1', xff([padding.join(','), '203.0.113.9, 10.0.0.250']))).toBe(
      '203.0.113.9',
    );
    // 32 entries, all trusted but the left-most: walked to the end.
    const atLimit = ['198.51.100.7', ...proxies(31)];
    expect(atLimit).toHaveLength(32);
    expect(sut.resolve('127.0.0.1', xff(atLimit.join(', ')))).toBe('198.51.100.7');
    // The untrusted entry 33rd from the right is beyond the walk: 32 trusted hops prove
    // nothing about it, and the request is judged by its socket address.
    const overLimit = ['198.51.100.7', ...proxies(32)];
    expect(sut.resolve('127.0.0.1', xff(overLimit.join(', ')))).toBe('127.0.0.1');
    expect(sut.resolve('127.0.0.1', xff([atLimit.join(','), '10.0.0.99']))).toBe('127.0.0.1');
  });

  it('reads the for= nodes of an RFC 7239 Forwarded header', () => {
    const { sut } = serviceWith({ clientIpHeader: 'Forwarded', trustedProxies: PROXIES });
    const fwd = (value: string | string[]) => ({ forwarded: value });
    expect(sut.resolve('127.0.0.1', fwd('for=198.51.100.7'))).toBe('198.51.100.7');
    expect(sut.resolve('127.0.0.1', fwd('For="198.51.100.7:5000";proto=https;by=10.0.0.2'))).toBe(
      '198.51.100.7',
    );
    expect(sut.resolve('127.0.0.1', fwd('for="[2001:db8::7]:4711"'))).toBe('2001:db8::7');
    // Walked from the right like X-Forwarded-For: the client's own element proves nothing.
    expect(
      sut.resolve('127.0.0.1', fwd('for=192.0.2.1, for=203.0.113.9;proto=http, for=10.0.0.3')),
    ).toBe('203.0.113.9');
    expect(sut.resolve('127.0.0.1', fwd(['for=192.0.2.1', 'for=203.0.113.9, for=10.0.0.3']))).toBe(
      '203.0.113.9',
    );
    // No address to be had: judged by the socket.
    for (const value of ['for=unknown', 'for=_hidden', 'proto=https', 'for=', 'for="[::1"']) {
      expect(sut.resolve('127.0.0.1', fwd(value))).toBe('127.0.0.1');
    }
    // X-Forwarded-For is not read when the settings name Forwarded.
    expect(sut.resolve('127.0.0.1', xff('198.51.100.7'))).toBe('127.0.0.1');
  });

  it('follows a change of the header name announced by the settings', () => {
    const { sut, settings } = serviceWith();
    const headers = { 'x-forwarded-for': '198.51.100.7', 'x-real-ip': '203.0.113.7' };
    expect(sut.resolve('127.0.0.1', headers)).toBe('198.51.100.7');
    settings.change({ clientIpHeader: 'X-Real-IP' });
    expect(sut.resolve('127.0.0.1', headers)).toBe('203.0.113.7');
    expect(sut.resolve('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' })).toBe('127.0.0.1');
  });

  it('follows a change of the trusted proxies announced by the settings', () => {
    const { sut, settings } = serviceWith();
    expect(sut.resolve('10.0.0.2', xff('198.51.100.7'))).toBe('10.0.0.2');
    settings.change({ trustedProxies: ['10.0.0.0/8'] });
    expect(sut.resolve('10.0.0.2', xff('198.51.100.7'))).toBe('198.51.100.7');
    expect(sut.resolve('127.0.0.1', xff('198.51.100.7'))).toBe('127.0.0.1');
  });
});

describe('IPv4 shorthand forms', () => {
  it.each(['10/8', '10.1/16', '010.0.0.1', '1.2.3', '0x7f.0.0.1'])(
    'refuses %s in settings lists',
    (value) => {
      expect(isValidIpOrCidr(value)).toBe(false);
    },
  );

  it.each(['10.0.0.0/8', '192.168.1.7', '::ffff:10.0.0.1', '2001:db8::/32'])(
    'accepts %s',
    (value) => {
      expect(isValidIpOrCidr(value)).toBe(true);
    },
  );
});
