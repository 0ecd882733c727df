import { Inject, Injectable } from '@nestjs/common';
import { readCapped } from '../common/http/fetch-json';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

const DOWNLOAD_TIMEOUT_MS = 60_000;

/**
 * Fetches a CMJ download link exactly as given: no Authorization header (the link is signed),
 * only from CMJ_DOWNLOAD_HOSTS, https unless CMJ_ALLOW_HTTP, no redirects, read as a stream up
 * to CMJ_DOWNLOAD_MAX_BYTES and within a timeout.
 */
@Injectable()
export class DownloadClient {
  constructor(@Inject(WARDEN_CONFIG) private readonly config: WardenConfig) {}

  /** Refuses a link Warden must not fetch, before anything is sent. */
  check(link: string): URL {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new DownloadError('The download link is not a URL');
    }
    const { allowHttp, downloadHosts } = this.config.cmj;
    if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
      throw new DownloadError(`Download links must be https (got ${url.protocol})`);
    if (url.username || url.password)
      throw new DownloadError('Download links carry no credentials');
    if (!downloadHosts.includes(url.host.toLowerCase()))
      throw new DownloadError(`Downloads from ${url.host} are not allowed (CMJ_DOWNLOAD_HOSTS)`);
    return url;
  }

  async download(link: string): Promise<string> {
    this.check(link);
    let response: Response;
    try {
      response = await fetch(link, {
        redirect: 'manual',
        signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS),
      });
    } catch (err) {
      throw new DownloadError(`The download server did not answer (${(err as Error).name})`);
    }
    if (response.status === 403 || response.status === 410) {
      await response.body?.cancel();
      throw new DownloadError(
        `The download link has expired or was refused (${response.status})`,
        response.status,
      );
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new DownloadError(`The download server answered ${response.status}`, response.status);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const cap = this.config.cmj.downloadMaxBytes;
    if (Number.isFinite(declared) && declared > cap) {
      await response.body?.cancel();
      throw new DownloadError(`The download is larger than ${cap} bytes`);
    }
    let text: string | null;
    try {
      text = await readCapped(response, cap);
    } catch (err) {
      throw new DownloadError(`The download broke off (${(err as Error).name})`);
    }
    if (text === null) throw new DownloadError(`The download is larger than ${cap} bytes`);
    return text;
  }
}
