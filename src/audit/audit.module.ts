import { Global, Module } from '@nestjs/common';
import { AuditSink, LogAuditSink } from './audit.port';

@Global()
@Module({
  providers: [{ provide: AuditSink, useClass: LogAuditSink }],
  exports: [AuditSink],
})
export class AuditModule {}
