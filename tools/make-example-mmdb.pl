#!/usr/bin/perl
# make-example-mmdb.pl OUTPUT.mmdb: writes geodnsd's example GeoIP2-City-schema database (test cities).
#
# Record size 28, IPv6 tree with IPv4 aliased (::ffff:a.b.c.d and ::a.b.c.d find the IPv4
# data). Only documentation, shared-address, benchmark and loopback ranges are used, so nothing
# real is claimed. The table is documented in docs/geo.md; keep both in sync.
use strict;
use warnings;
use utf8;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUTPUT.mmdb\n";

# city => [ lat, lon, country, country name, continent, subdivision, geoname id ]
my %city = (
    'Paris'        => [ 48.8566,   2.3522,   'FR', 'France',        'EU', 'IDF', 2988507 ],
    'Chicago'      => [ 41.8781,  -87.6298,  'US', 'United States', 'NA', 'IL',  4887398 ],
    'Tokyo'        => [ 35.6762,  139.6503,  'JP', 'Japan',         'AS', '13',  1850147 ],
    'Buenos Aires' => [ -34.6037, -58.3816,  'AR', 'Argentina',     'SA', 'C',   3435910 ],
    'Sydney'       => [ -33.8688, 151.2093,  'AU', 'Australia',     'OC', 'NSW', 2147714 ],
    'Reykjavik'    => [ 64.1466,  -21.9426,  'IS', 'Iceland',       'EU', '1',   3413829 ],
    'Tunis'        => [ 36.8065,  10.1815,   'TN', 'Tunisia',       'AF', '11',  2464470 ],
    'Berlin'       => [ 52.5200,  13.4050,   'DE', 'Germany',       'EU', 'BE',  2950159 ],
    'New York'     => [ 40.7128,  -74.0060,  'US', 'United States', 'NA', 'NY',  5128581 ],
);

my @nets = (
    [ '192.0.2.0/24',    'Paris' ],
    [ '198.51.100.0/24', 'Chicago' ],
    [ '203.0.113.0/24',  'Tokyo' ],
    [ '100.64.0.0/16',   'Buenos Aires' ],
    [ '2001:db8::/32',   'Sydney' ],
    [ '127.255.1.0/24',  'Paris' ],
    [ '127.255.2.0/24',  'Chicago' ],
    [ '127.255.3.0/24',  'Tokyo' ],
    [ '127.255.4.0/24',  'Buenos Aires' ],
    [ '127.255.5.0/24',  'Sydney' ],
    [ '127.255.6.0/24',  'Reykjavik' ],
    [ '198.18.0.0/24',   'Reykjavik' ],
    [ '127.255.7.0/24',  'Tunis' ],
    [ '198.18.1.0/24',   'Tunis' ],
    [ '127.255.8.0/24',  'Berlin' ],
    [ '198.18.2.0/24',   'Berlin' ],
    [ '127.255.9.0/24',  'New York' ],
    [ '198.18.3.0/24',   'New York' ],
);

my %continent = (
    EU => [ 6255148, 'Europe' ],
    NA => [ 6255149, 'North America' ],
    AS => [ 6255147, 'Asia' ],
    SA => [ 6255150, 'South America' ],
    OC => [ 6255151, 'Oceania' ],
    AF => [ 6255146, 'Africa' ],
);

my %types = (
    city               => 'map',
    continent          => 'map',
    country            => 'map',
    registered_country => 'map',
    location           => 'map',
    subdivisions       => [ 'array', 'map' ],
    names              => 'map',
    en                 => 'utf8_string',
    code               => 'utf8_string',
    iso_code           => 'utf8_string',
    geoname_id         => 'uint32',
    latitude           => 'double',
    longitude          => 'double',
    accuracy_radius    => 'uint16',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'GeoIP2-City',
    languages                => ['en'],
    description              => { en => 'geodnsd example database (test ranges only)' },
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);

for my $n (@nets) {
    my ( $net, $name ) = @$n;
    my ( $lat, $lon, $cc, $cname, $cont, $sub, $gid ) = @{ $city{$name} };
    my $country = { iso_code => $cc, names => { en => $cname } };
    $tree->insert_network(
        $net,
        {
            city               => { geoname_id => $gid, names => { en => $name } },
            continent          => { code => $cont, geoname_id => $continent{$cont}[0],
                                    names => { en => $continent{$cont}[1] } },
            country            => $country,
            registered_country => $country,
            location           => { latitude => $lat, longitude => $lon, accuracy_radius => 20 },
            subdivisions       => [ { iso_code => $sub } ],
        },
    );
}

open my $fh, '>:raw', "$out.tmp" or die "open $out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "close $out.tmp: $!\n";
rename "$out.tmp", $out or die "rename $out: $!\n";
