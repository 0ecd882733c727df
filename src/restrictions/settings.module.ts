import { AuditModule } from '../audit/audit.module';
import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientIpService } from './client-ip.service';
import { SettingsController } from './settings.controller';
import { SettingsEntity } from './settings.entity';
import { SettingsRepository } from './settings.repository';
import { SettingsService } from './settings.service';

/** The settings document, read everywhere: global, and free of dependencies on the other modules. */
@Global()
@Module({
  imports: [AuditModule, TypeOrmModule.forFeature([SettingsEntity])],
  controllers: [SettingsController],
  providers: [SettingsRepository, SettingsService, ClientIpService],
  exports: [SettingsService, ClientIpService],
})
export class SettingsModule {}
