export const EXPORT_FORMAT = 'warden-cmj-export';
export const EXPORT_VERSION = 1;

/** The document an export answers and an import downloads: one entry per handler. */
export interface ExportDocument {
  format: typeof EXPORT_FORMAT;
  version: number;
  appKey: string;
  source: string;
  exportedAt: string;
  /** One entry per data type (handler). */
  data: Record<string, unknown>;
}

/** The downloaded file is not an export this instance can read. */
export class DocumentError extends Error {}

/** The export in `text`, checked for its format and version. */
export function parseDocument(text: string): ExportDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DocumentError('The downloaded export is not JSON');
  }
  const doc = value as Partial<ExportDocument> | null;
  if (
    typeof doc !== 'object' ||
    doc === null ||
    doc.format !== EXPORT_FORMAT ||
    typeof doc.data !== 'object' ||
    doc.data === null ||
    Array.isArray(doc.data)
  )
    throw new DocumentError('The downloaded file is not a Warden export');
  if (doc.version !== EXPORT_VERSION)
    throw new DocumentError(
      `The export has version ${doc.version}; this instance reads ${EXPORT_VERSION}`,
    );
  return doc as ExportDocument;
}
