import { DynamicModule, Global, Module } from '@nestjs/common';
import { WARDEN_CONFIG, WardenConfig } from './warden-config';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: WardenConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: WARDEN_CONFIG, useValue: config }],
      exports: [WARDEN_CONFIG],
    };
  }
}
