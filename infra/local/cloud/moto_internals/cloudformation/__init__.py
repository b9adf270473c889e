"""moto's CloudFormation taught the resource types SAM stacks use that it lacks or gets wrong,
one model a module (as LocalStack keeps one resource provider a file), registered as moto's own
are (``registration``); and one stack's resource map, where the deployer fills moto's gaps
(``stack``). ``base`` holds what every model shares: moto's entry point, written once."""
