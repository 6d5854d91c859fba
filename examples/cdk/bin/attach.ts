#!/usr/bin/env node
// The CDK app of examples/cdk: one env-agnostic stack (no account or Region lookups, so
// `cdk synth` runs offline), checked by cdk-nag's AWS Solutions pack. A finding that is
// neither fixed nor acknowledged with a reason fails the synth.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AttachStack } from '../lib/attach-stack';

const app = new App();
new AttachStack(app, 'JwtAuthorizerAttachExample', {
  description: 'An existing API (REST, HTTP, WebSocket) behind the jwt-authorizer, by ARN (examples/cdk)',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
