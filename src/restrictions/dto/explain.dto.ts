import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { IsOmittable } from '../../common/is-omittable';

export class ExplainDecisionDto {
  @ApiProperty({ example: 'GET', description: 'Method of the request to judge' })
  @IsString()
  @Matches(/^[A-Za-z]{3,10}$/, { message: 'method must be an HTTP method such as GET' })
  method!: string;

  @ApiProperty({
    example: '/rest/api/2/issue/PRJ-1',
    description: 'Path and query of the request to judge, as a reverse proxy would forward it',
  })
  @IsString()
  @Matches(/^\//, { message: 'uri must be a path starting with /' })
  @MaxLength(8192)
  uri!: string;

  @ApiPropertyOptional({
    example: '203.0.113.7',
    description: "The client's address; the operator's own when absent",
  })
  @IsOmittable()
  @IsString()
  @MaxLength(64)
  clientIp?: string;

  @ApiPropertyOptional({
    example: 'Bearer wdn_…',
    description: 'The Authorization header to judge; it is never echoed or recorded',
  })
  @IsOmittable()
  @IsString()
  @MaxLength(16 * 1024)
  authorization?: string;
}
