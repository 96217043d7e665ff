'use strict';

// Jest suite reported through the unmodified ReportPortal agent (@reportportal/agent-js-jest).
// The agent itself reads RP_ENDPOINT, RP_API_KEY, RP_PROJECT_NAME, RP_LAUNCH, RP_DESCRIPTION,
// RP_ATTRIBUTES ("key:value,value"), RP_MODE and RP_LAUNCH_ID from the environment, and they win
// over the options below. endpoint/apiKey/project have no defaults: set them in the environment.
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.test.js'],
  reporters: [
    'default',
    [
      '@reportportal/agent-js-jest',
      {
        endpoint: process.env.RP_ENDPOINT,
        apiKey: process.env.RP_API_KEY,
        project: process.env.RP_PROJECT_NAME,
        launch: process.env.RP_LAUNCH || 'testvault rp-jest sample',
        description: 'Sample launch from the Testvault reporter fixtures',
        attributes: [{ key: 'suite', value: 'rp-jest' }, { value: 'sample' }],
      },
    ],
  ],
};
