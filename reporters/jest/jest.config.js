'use strict';

// Jest suite reported through the unmodified Testomat.io reporter.
// The reporter reads TESTOMATIO (API key) and TESTOMATIO_URL from the environment.
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.test.js'],
  reporters: ['default', '@testomatio/reporter/jest'],
};
